// Processes stored webhooks: the job handler for kProcessJobKind loads the inbox row and runs
// the handlers registered for its (source, topic), in registration order, in the same write
// transaction that marks the row processed. Several modules may act on one topic (orders/paid
// stores the order for webhooks/ and starts flows for email/): they commit together or not at
// all, so the first error rolls back what the earlier handlers wrote and the job is retried. A
// row already processed is skipped, so a job re-run after a crash (lease expiry) has no second
// effect. Topics without a handler are stored and marked ignored with a reason.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"

namespace afterglow::webhooks {

struct InboxEvent {
  int64_t inbox_id = 0;
  std::string source;
  std::string shop_domain;
  std::string topic;
  std::string delivery_id;
  std::string api_version;
  std::string body;
  int64_t received_at_ms = 0;
};

// What a handler did: processed (state change applied) or ignored with a reason shown to
// operators (e.g. "older than the stored order").
struct Outcome {
  bool ignored = false;
  std::string note;
  static Outcome processed(std::string note = {}) { return {false, std::move(note)}; }
  static Outcome ignore(std::string reason) { return {true, std::move(reason)}; }
};

// Runs inside the dispatcher's write transaction; an error or exception rolls back everything
// it wrote, and the job is retried.
using TopicHandler = std::function<Result<Outcome>(Tx&, const InboxEvent&)>;

class WebhookDispatcher {
 public:
  WebhookDispatcher(Db& db, const Clock& clock, Metrics& metrics);

  // Adds a handler for (source, topic) after those already registered for it. The row's outcome
  // is `processed` when any handler processed it, `ignored` when all ignored it; the notes of
  // every handler that left one are joined with "; ", in registration order.
  void on(const std::string& source, const std::string& topic, TopicHandler handler);
  bool handles(const std::string& source, const std::string& topic) const;
  // The topics registered for `source`, sorted (`afterglow describe` lists them so the manifest
  // test can hold shopify.app.toml to exactly this set).
  std::vector<std::string> topics(const std::string& source) const;

  // The job handler for kProcessJobKind.
  Result<void> process(const Job& job);

 private:
  Result<void> record_failure(int64_t inbox_id, const std::string& error, bool final);

  Db& db_;
  const Clock& clock_;
  Metrics& metrics_;
  std::map<std::pair<std::string, std::string>, std::vector<TopicHandler>> handlers_;
};

}  // namespace afterglow::webhooks
