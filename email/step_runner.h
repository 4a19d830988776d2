// Runs the step runs that are due: the worker side of the sequences.
//
// For each claimed run (a lease, like a job's):
//   - a delay or split is walked (email/step_schedule.h) and the run is done;
//   - a send step goes through the send-time policy (email/send_policy.h): an exit ends the
//     enrolment, a skip moves on to the next step, a delay (quiet hours) puts the run back with a
//     later due time; a send is composed (email/message_composer.h) and its `messages` row is
//     committed in state 'sending' BEFORE the channel is called, outside any transaction.
//   - After the call, one transaction records the outcome on the message and, fenced on the
//     lease, completes the run and schedules the next step.
// A step is never sent twice to a person: the message row is unique per run, and a run whose
// message is found in 'sending' when it is claimed again (the worker died, or its lease ran out
// mid-send) is marked 'unknown' and moves on without sending. Transient failures (SMTP 4xx, SMS
// 429, no connection) retry with backoff up to max_attempts; permanent ones suppress where the
// provider says the address is bad (hard bounce, STOP, invalid number).
//
// Thread-safe: several threads and processes may run at once (claims are row-locked on
// PostgreSQL; SQLite serialises writers).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "email/mailer.h"
#include "email/sms_sender.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace afterglow::email {

struct StepRunnerConfig {
  std::string app_url;                      // base of tracking, unsubscribe and callback URLs
  std::string tracking_key;                 // email/tracking_token.h tracking_key(app secret)
  std::string mail_from;                    // MAIL_FROM
  std::chrono::milliseconds lease{std::chrono::minutes(2)};  // longer than a channel timeout
  int max_attempts = 6;                     // transient failures before the step fails
  std::chrono::milliseconds retry_base{std::chrono::minutes(5)};  // doubles per attempt
};

// A claimed run, as returned by claim().
struct ClaimedRun {
  int64_t id = 0;
  int64_t shop_id = 0;
  int64_t enrolment_id = 0;
  std::string step_id;
  int64_t due_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  int attempt = 0;                          // 1 on the first claim
  std::string lease_owner;
};

class StepRunner {
 public:
  // `mailer` or `sms` may be null: that channel is off and its steps are skipped with the
  // reason "channel_off" (and logged), not held forever.
  StepRunner(Db& db, const Clock& clock, Mailer* mailer, SmsSender* sms, StepRunnerConfig config);

  // Claims up to `max_runs` due runs (pending and due, or running with an expired lease) and
  // runs them one after another. Returns how many it ran.
  Result<int> run_due(std::string_view worker, int max_runs);

  // The two halves of run_due, for tests that stop a worker between claim and send.
  Result<std::vector<ClaimedRun>> claim(std::string_view worker, int max_runs);
  Result<void> run(const ClaimedRun& run);

  // Earliest due time of a pending run, if any (lets an idle worker sleep until then).
  Result<std::optional<int64_t>> next_due_ms();

 private:
  struct Prepared;
  Result<Prepared> prepare(const ClaimedRun& run);
  Result<void> finish_email(const ClaimedRun& run, const Prepared& p, const MailResult& r);
  Result<void> finish_sms(const ClaimedRun& run, const Prepared& p, const SmsResult& r);

  Db& db_;
  const Clock& clock_;
  Mailer* mailer_;
  SmsSender* sms_;
  StepRunnerConfig config_;
};

}  // namespace afterglow::email
