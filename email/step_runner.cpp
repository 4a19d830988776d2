#include "email/step_runner.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "email/consent.h"
#include "email/flow_store.h"
#include "email/message_composer.h"
#include "email/recommendations.h"
#include "email/send_policy.h"
#include "email/step_schedule.h"
#include "plugin/core/crypto.h"
#include "plugin/core/log.h"
#include "plugin/core/shop_settings.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int64_t kMaxRetryDelayMs = 6 * 3'600'000;

const char* channel_of(const FlowStep& step) {
  return step.type == StepType::kSendSms ? "sms" : "email";
}

bool is_send(const FlowStep& step) {
  return step.type == StepType::kSendEmail || step.type == StepType::kSendSms;
}

RecommendationMode mode_for(FlowTrigger trigger) {
  return trigger == FlowTrigger::kCheckoutAbandoned || trigger == FlowTrigger::kProductViewed
             ? RecommendationMode::kUpgrade
             : RecommendationMode::kComplement;
}

// Holds the run's row lock for the rest of the transaction and says whether this claim still
// owns it. Every write about a run happens after this check, in the same transaction.
Result<bool> still_owned(Tx& tx, const ClaimedRun& run) {
  auto row = AG_TRY(tx.query_one(
      "SELECT id FROM step_runs WHERE id = ? AND lease_owner = ? AND state = 'running' "
      "FOR UPDATE",
      {run.id, run.lease_owner}));
  return row.has_value();
}

Result<void> mark_done(Tx& tx, const ClaimedRun& run, std::string_view outcome,
                       std::string_view reason, int64_t now_ms) {
  AG_CHECK(tx.exec(
      "UPDATE step_runs SET state = 'done', outcome = ?, reason = ?, lease_owner = NULL, "
      "lease_expires_at_ms = NULL, updated_at_ms = ? WHERE id = ? AND lease_owner = ?",
      {std::string(outcome), std::string(reason), now_ms, run.id, run.lease_owner}));
  return {};
}

Result<void> put_back(Tx& tx, const ClaimedRun& run, int64_t due_ms, bool count_attempt,
                      std::string_view reason, int64_t now_ms) {
  AG_CHECK(tx.exec(
      std::string("UPDATE step_runs SET state = 'pending', due_at_ms = ?, reason = ?, ") +
          (count_attempt ? "" : "attempt = attempt - 1, ") +
          "lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ? "
          "WHERE id = ? AND lease_owner = ?",
      {due_ms, std::string(reason), now_ms, run.id, run.lease_owner}));
  return {};
}

// Moves past `step` to whatever follows it.
Result<void> advance_after(Tx& tx, const Enrolment& e, const Flow& flow, const FlowStep& step,
                           int64_t now_ms) {
  return schedule_from(tx, e, flow, next_step(flow, step.id), now_ms);
}

}  // namespace

struct StepRunner::Prepared {
  bool send = false;
  bool sms = false;
  int64_t message_id = 0;
  OutgoingEmail email;
  OutgoingSms text;
};

StepRunner::StepRunner(Db& db, const Clock& clock, Mailer* mailer, SmsSender* sms,
                       StepRunnerConfig config)
    : db_(db), clock_(clock), mailer_(mailer), sms_(sms), config_(std::move(config)) {}

Result<std::vector<ClaimedRun>> StepRunner::claim(std::string_view worker, int max_runs) {
  std::vector<ClaimedRun> claimed;
  int64_t now = clock_.now_ms();
  std::string owner = std::string(worker) + ":" + crypto::random_hex(6);
  int64_t expires = now + config_.lease.count();
  constexpr const char* kReturning =
      " RETURNING id, shop_id, enrolment_id, step_id, due_at_ms, expires_at_ms, attempt";
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    claimed.clear();
    // Two statements, each reading the head of one index (as the job queue does): first the
    // runs of crashed workers, then the due backlog.
    auto rows = AG_TRY(tx.query(
        std::string("UPDATE step_runs SET state = 'running', attempt = attempt + 1, "
                    "lease_owner = ?, lease_expires_at_ms = ?, updated_at_ms = ? "
                    "WHERE id IN (SELECT id FROM step_runs WHERE state = 'running' "
                    "AND lease_expires_at_ms < ? ORDER BY lease_expires_at_ms, id LIMIT ? "
                    "FOR UPDATE SKIP LOCKED)") +
            kReturning,
        {owner, expires, now, now, int64_t{max_runs}}));
    if (rows.size() < static_cast<size_t>(max_runs)) {
      auto due = AG_TRY(tx.query(
          std::string("UPDATE step_runs SET state = 'running', attempt = attempt + 1, "
                      "lease_owner = ?, lease_expires_at_ms = ?, updated_at_ms = ? "
                      "WHERE id IN (SELECT id FROM step_runs WHERE state = 'pending' "
                      "AND due_at_ms <= ? ORDER BY due_at_ms, id LIMIT ? "
                      "FOR UPDATE SKIP LOCKED)") +
              kReturning,
          {owner, expires, now, now, static_cast<int64_t>(max_runs - rows.size())}));
      rows.insert(rows.end(), due.begin(), due.end());
    }
    for (const Row& r : rows) {
      ClaimedRun c;
      c.id = r.i64(0);
      c.shop_id = r.i64(1);
      c.enrolment_id = r.i64(2);
      c.step_id = r.text(3);
      c.due_at_ms = r.i64(4);
      c.expires_at_ms = r.opt_i64(5);
      c.attempt = static_cast<int>(r.i64(6));
      c.lease_owner = owner;
      claimed.push_back(std::move(c));
    }
    return {};
  }));
  std::sort(claimed.begin(), claimed.end(),
            [](const ClaimedRun& a, const ClaimedRun& b) { return a.due_at_ms < b.due_at_ms; });
  return claimed;
}

Result<int> StepRunner::run_due(std::string_view worker, int max_runs) {
  auto runs = AG_TRY(claim(worker, max_runs));
  for (const ClaimedRun& run : runs) {
    if (auto r = this->run(run); !r) {
      // The run stays claimed; its lease expires and another claim retries it (a message
      // already in 'sending' is then resolved as unknown, never re-sent).
      log::warn("step run failed", {{"step_run", std::to_string(run.id)},
                                    {"error", r.error().message}});
    }
  }
  return static_cast<int>(runs.size());
}

Result<std::optional<int64_t>> StepRunner::next_due_ms() {
  std::optional<int64_t> next;
  AG_CHECK(db_.read([&](Tx& tx) -> Result<void> {
    auto row = AG_TRY(tx.query_one(
        "SELECT due_at_ms FROM step_runs WHERE state = 'pending' ORDER BY due_at_ms LIMIT 1"));
    if (row) next = row->i64(0);
    return {};
  }));
  return next;
}

Result<void> StepRunner::run(const ClaimedRun& run) {
  Prepared p = AG_TRY(prepare(run));
  if (!p.send) return {};
  if (p.sms) {
    SmsResult r = sms_->send(p.text);
    return finish_sms(run, p, r);
  }
  MailResult r = mailer_->send(p.email);
  return finish_email(run, p, r);
}

Result<StepRunner::Prepared> StepRunner::prepare(const ClaimedRun& run) {
  Prepared out;
  int64_t now = clock_.now_ms();
  AG_CHECK(db_.write([&](Tx& tx) -> Result<void> {
    out = Prepared{};
    if (!AG_TRY(still_owned(tx, run))) return {};
    auto enrolment = AG_TRY(find_enrolment(tx, run.enrolment_id));
    if (!enrolment || enrolment->state != "active") {
      return mark_done(tx, run, "cancelled", "enrolment_ended", now);
    }
    const Enrolment& e = *enrolment;
    auto flow = AG_TRY(find_flow(tx, e.shop_id, e.flow_id));
    const FlowStep* step = flow ? find_step(*flow, run.step_id) : nullptr;
    if (!step) {
      // The merchant removed the step (or the flow) the person was waiting at.
      std::string why = flow ? "step_removed" : "flow_deleted";
      AG_CHECK(finish_enrolment(tx, e.id, "exited", why, now));
      AG_CHECK(log_step(tx, e, run.step_id, std::nullopt, "exited", why, "", now));
      return mark_done(tx, run, "exited", why, now);
    }
    if (!is_send(*step)) {
      AG_CHECK(schedule_from(tx, e, *flow, step, now));
      return mark_done(tx, run, "advanced", "", now);
    }
    const char* channel = channel_of(*step);

    auto existing = AG_TRY(tx.query_one(
        "SELECT id, state FROM messages WHERE step_run_id = ?", {run.id}));
    if (existing && existing->text(1) == "sending") {
      // A claim before this one committed the message and then stopped hearing back: the
      // worker died or its lease ran out mid-send. It may have gone out: never send again.
      AG_CHECK(tx.exec(
          "UPDATE messages SET state = 'unknown', error = ?, updated_at_ms = ? WHERE id = ?",
          {std::string("the worker stopped while sending; not sent again"), now,
           existing->i64(0)}));
      AG_CHECK(log_step(tx, e, step->id, channel, "unknown", "interrupted_send",
                        "the send may have gone out; it is not repeated", now));
      AG_CHECK(mark_done(tx, run, "unknown", "interrupted_send", now));
      return advance_after(tx, e, *flow, *step, now);
    }
    if (existing && existing->text(1) != "retry") {
      // Finished before (its outcome is recorded): only the bookkeeping was lost.
      AG_CHECK(mark_done(tx, run, existing->text(1), "already_sent", now));
      return advance_after(tx, e, *flow, *step, now);
    }
    bool sms = step->type == StepType::kSendSms;
    if ((sms && sms_ == nullptr) || (!sms && mailer_ == nullptr)) {
      AG_CHECK(log_step(tx, e, step->id, channel, "skipped", "channel_off",
                        sms ? "SMS is not configured (SMS_ACCOUNT_SID)"
                            : "email is not configured (SMTP_URL)",
                        now));
      AG_CHECK(mark_done(tx, run, "skipped", "channel_off", now));
      return advance_after(tx, e, *flow, *step, now);
    }

    SendRequest request{&*flow, step, &e, run.expires_at_ms, now};
    PolicyDecision d = AG_TRY(evaluate_send_policy(tx, request));
    switch (d.verdict) {
      case Verdict::kExit:
        AG_CHECK(finish_enrolment(tx, e.id, "exited", d.reason, now));
        AG_CHECK(log_step(tx, e, step->id, channel, "exited", d.reason, d.detail, now));
        return mark_done(tx, run, "exited", d.reason, now);
      case Verdict::kSkip:
        AG_CHECK(log_step(tx, e, step->id, channel, "skipped", d.reason, d.detail, now));
        AG_CHECK(mark_done(tx, run, "skipped", d.reason, now));
        return advance_after(tx, e, *flow, *step, now);
      case Verdict::kDelay:
        AG_CHECK(log_step(tx, e, step->id, channel, "delayed", d.reason, d.detail, now));
        return put_back(tx, run, d.delay_until_ms, /*count_attempt=*/false, d.reason, now);
      case Verdict::kSend: break;
    }

    std::vector<RecommendedItem> items;
    if (step_recommends(*step)) {
      RecommendationRequest rq;
      rq.shop_id = e.shop_id;
      rq.mode = mode_for(e.trigger);
      rq.basis_product_ids = e.data.product_ids;
      rq.exclude_product_ids = d.excluded_product_ids;
      rq.now_ms = now;
      items = AG_TRY(recommend(tx, rq));
    }
    auto shop = AG_TRY(tx.query_one("SELECT domain FROM shops WHERE id = ?", {e.shop_id}));
    ShopSettings settings = AG_TRY(load_shop_settings(tx, e.shop_id));
    json item_ids = json::array();
    for (const RecommendedItem& i : items) item_ids.push_back(i.product_id);
    std::string recipient = sms ? e.phone : e.email;

    int64_t message_id = 0;
    if (existing) {
      message_id = existing->i64(0);
    } else {
      auto inserted = AG_TRY(tx.query(
          "INSERT INTO messages (shop_id, step_run_id, enrolment_id, flow_id, step_id, "
          "customer_id, person_key, channel, recipient, state, items, created_at_ms, "
          "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?) RETURNING id",
          {e.shop_id, run.id, e.id, e.flow_id, step->id,
           e.customer_id ? DbValue(*e.customer_id) : DbValue(), e.person_key,
           std::string(channel), recipient, item_ids.dump(), now, now}));
      message_id = inserted.at(0).i64(0);
    }

    ComposeInput in;
    in.settings = &settings;
    in.shop_domain = shop ? shop->text(0) : std::string();
    in.shop_name = settings.sender_name.empty() ? in.shop_domain : settings.sender_name;
    in.enrolment = &e;
    in.step = step;
    in.message_id = message_id;
    in.items = items;
    in.app_url = config_.app_url;
    in.tracking_key = config_.tracking_key;
    in.mail_from = config_.mail_from;
    in.first_sms_to_number = d.first_sms_to_number;
    in.now_ms = now;

    std::string error;
    json links = json::array();
    if (sms) {
      auto c = compose_sms_message(in);
      if (c) {
        out.text = OutgoingSms{c->recipient, c->body,
                               config_.app_url + "/webhooks/sms/status?m=" +
                                   std::to_string(message_id)};
        for (const std::string& l : c->links) links.push_back(l);
        AG_CHECK(tx.exec(
            "UPDATE messages SET state = 'sending', links = ?, segments = ?, items = ?, "
            "updated_at_ms = ? WHERE id = ?",
            {links.dump(), int64_t{c->segments}, item_ids.dump(), now, message_id}));
      } else {
        error = c.error().message;
      }
    } else {
      auto c = compose_email_message(in);
      if (c) {
        out.email = OutgoingEmail{c->envelope_from, c->recipient, c->raw};
        for (const std::string& l : c->links) links.push_back(l);
        AG_CHECK(tx.exec(
            "UPDATE messages SET state = 'sending', links = ?, subject = ?, rfc_message_id = ?, "
            "items = ?, updated_at_ms = ? WHERE id = ?",
            {links.dump(), c->subject, c->rfc_message_id, item_ids.dump(), now, message_id}));
      } else {
        error = c.error().message;
      }
    }
    if (!error.empty()) {
      // The content is wrong (a template error, no postal address, too long): nothing goes
      // out half-right. The merchant sees why in the log.
      AG_CHECK(tx.exec("UPDATE messages SET state = 'failed', error = ?, updated_at_ms = ? "
                       "WHERE id = ?",
                       {error, now, message_id}));
      AG_CHECK(log_step(tx, e, step->id, channel, "skipped", "render_failed", error, now));
      AG_CHECK(mark_done(tx, run, "skipped", "render_failed", now));
      return advance_after(tx, e, *flow, *step, now);
    }
    out.send = true;
    out.sms = sms;
    out.message_id = message_id;
    return {};
  }));
  return out;
}

namespace {

struct Resolution {
  std::string message_state;  // sent | retry | failed | bounced | unknown
  std::string outcome;        // send_log outcome: sent | delayed | failed | unknown
  std::string reason;
  std::string detail;
  std::optional<std::string> suppress;  // suppression reason, when the address is bad
  std::string provider_id;
};

}  // namespace

// The shared second half of email and SMS: record the channel's answer on the message, then,
// if this claim still owns the run, finish it and move on (or put it back for a retry).
static Result<void> finish_run(Db& db, const Clock& clock, const StepRunnerConfig& config,
                               const ClaimedRun& run, int64_t message_id, bool sms,
                               const Resolution& r) {
  int64_t now = clock.now_ms();
  return db.write([&](Tx& tx) -> Result<void> {
    // A later claim may have marked the message unknown meanwhile; our answer is better
    // information, so it replaces that, but never a final state.
    AG_CHECK(tx.exec(
        "UPDATE messages SET state = ?, error = ?, provider_id = COALESCE(?, provider_id), "
        "sent_at_ms = CASE WHEN ? = 'sent' THEN ? ELSE sent_at_ms END, updated_at_ms = ? "
        "WHERE id = ? AND state IN ('sending', 'unknown')",
        {r.message_state, r.detail.empty() ? DbValue() : DbValue(r.detail),
         r.provider_id.empty() ? DbValue() : DbValue(r.provider_id), r.message_state, now, now,
         message_id}));
    auto enrolment = AG_TRY(find_enrolment(tx, run.enrolment_id));
    if (!enrolment) return {};
    const char* channel = sms ? "sms" : "email";
    if (r.suppress) {
      AG_CHECK(suppress_address(tx, enrolment->shop_id,
                                sms ? AddressChannel::kSms : AddressChannel::kEmail,
                                sms ? enrolment->phone : enrolment->email, *r.suppress, now));
    }
    if (!AG_TRY(still_owned(tx, run))) return {};  // another claim resolved the run already
    AG_CHECK(log_step(tx, *enrolment, run.step_id, channel, r.outcome, r.reason, r.detail, now));
    if (r.message_state == "retry") {
      int64_t delay = config.retry_base.count() << std::min(run.attempt - 1, 20);
      return put_back(tx, run, now + std::min(delay, kMaxRetryDelayMs), /*count_attempt=*/true,
                      r.reason, now);
    }
    AG_CHECK(mark_done(tx, run, r.outcome, r.reason, now));
    auto flow = AG_TRY(find_flow(tx, enrolment->shop_id, enrolment->flow_id));
    const FlowStep* step = flow ? find_step(*flow, run.step_id) : nullptr;
    if (!step || enrolment->state != "active") return {};
    return advance_after(tx, *enrolment, *flow, *step, now);
  });
}

Result<void> StepRunner::finish_email(const ClaimedRun& run, const Prepared& p,
                                      const MailResult& m) {
  Resolution r;
  r.detail = m.detail;
  switch (m.outcome) {
    case MailOutcome::kSent:
      r = {"sent", "sent", reason::kSent, "", std::nullopt, ""};
      break;
    case MailOutcome::kRetry:
      if (run.attempt < config_.max_attempts) {
        r = {"retry", "delayed", "smtp_retry", m.detail, std::nullopt, ""};
      } else {
        r = {"failed", "failed", "smtp_retries_exhausted", m.detail, std::nullopt, ""};
      }
      break;
    case MailOutcome::kRejected:
      r = {m.hard_bounce ? "bounced" : "failed", "failed",
           m.hard_bounce ? "hard_bounce" : "smtp_rejected", m.detail,
           m.hard_bounce ? std::optional<std::string>("hard_bounce") : std::nullopt, ""};
      break;
    case MailOutcome::kUnknown:
      r = {"unknown", "unknown", "smtp_outcome_unknown", m.detail, std::nullopt, ""};
      break;
  }
  return finish_run(db_, clock_, config_, run, p.message_id, false, r);
}

Result<void> StepRunner::finish_sms(const ClaimedRun& run, const Prepared& p,
                                    const SmsResult& s) {
  Resolution r;
  std::string detail = s.error_code ? "provider error " + std::to_string(s.error_code) : s.detail;
  switch (s.outcome) {
    case SmsOutcome::kSent:
      r = {"sent", "sent", reason::kSent, "", std::nullopt, s.sid};
      break;
    case SmsOutcome::kRetry:
      if (run.attempt < config_.max_attempts) {
        r = {"retry", "delayed", "sms_retry", detail, std::nullopt, ""};
      } else {
        r = {"failed", "failed", "sms_retries_exhausted", detail, std::nullopt, ""};
      }
      break;
    case SmsOutcome::kOptedOut:
      r = {"failed", "failed", "sms_opted_out", detail, std::string("sms_stop"), ""};
      break;
    case SmsOutcome::kRejected: {
      // Numbers the provider calls invalid or unreachable for SMS never will be.
      bool invalid = s.error_code == 21211 || s.error_code == 21612 || s.error_code == 21614;
      r = {"failed", "failed", invalid ? "invalid_number" : "sms_rejected", detail,
           invalid ? std::optional<std::string>("invalid_number") : std::nullopt, ""};
      break;
    }
    case SmsOutcome::kUnknown:
      r = {"unknown", "unknown", "sms_outcome_unknown", detail, std::nullopt, s.sid};
      break;
  }
  return finish_run(db_, clock_, config_, run, p.message_id, true, r);
}

}  // namespace afterglow::email
