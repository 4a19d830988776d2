// The webhook inbox: a verified delivery is stored and its processing job enqueued in one
// transaction, and only then acknowledged. The unique key (source, shop, delivery id) makes a
// redelivery a no-op, across threads and processes alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"

namespace afterglow::webhooks {

// The job kind that processes one inbox row; payload {"inbox_id": N}.
inline constexpr const char* kProcessJobKind = "webhook.process";

struct Delivery {
  std::string source;        // "shopify" | "stripe"
  std::string shop_domain;   // Shopify shop, or Stripe Connect account id, or ""
  std::string delivery_id;   // X-Shopify-Webhook-Id | Stripe event id
  std::string topic;
  std::string api_version;
  std::string event_id;
  std::string triggered_at;
  std::optional<int64_t> subject_customer_id;
  std::string body;          // the raw bytes as received
};

enum class IntakeResult { kAccepted, kDuplicate };

class Inbox {
 public:
  Inbox(Db& db, JobQueue& queue, const Clock& clock) : db_(db), queue_(queue), clock_(clock) {}

  // Stores the delivery and enqueues its processing, atomically. kDuplicate when this delivery
  // was stored before (nothing new is written).
  Result<IntakeResult> record(const Delivery& d);

 private:
  Db& db_;
  JobQueue& queue_;
  const Clock& clock_;
};

}  // namespace afterglow::webhooks
