-- The claim's access path (JobQueue::claim): due jobs of a queue in the order they are claimed,
-- so a claim reads the first entries of this index instead of reading and sorting every job,
-- finished ones included. Expired leases are found through jobs_lease.
CREATE INDEX jobs_claim ON jobs(queue, priority, run_at_ms, id) WHERE state = 'scheduled';
