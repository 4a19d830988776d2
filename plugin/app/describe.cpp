#include "plugin/app/describe.h"

#include <nlohmann/json.hpp>

#include "plugin/app/email_triggers.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/job_queue.h"
#include "plugin/core/metrics.h"
#include "plugin/core/platform_scopes.h"
#include "webhooks/dispatcher.h"
#include "webhooks/topic_handlers.h"

namespace afterglow::app {

namespace {

// Handlers only capture the Db, queue and clock; registering them touches none of these. The
// list comes from the real registration (register_topic_handlers), not from a second table
// that could drift, so this Db only has to exist: any use of it is a bug and fails loudly.
class UnusedDb final : public Db {
 public:
  Result<void> transact(TxKind, const std::function<Result<void>(Tx&)>&) override {
    return fail(ErrorCode::kInternal, "describe: no database");
  }
  Result<void> exec_script(std::string_view) override {
    return fail(ErrorCode::kInternal, "describe: no database");
  }
  std::string_view dialect() const override { return "none"; }
};

}  // namespace

std::string describe_json() {
  UnusedDb db;
  Metrics metrics;
  const Clock& clock = SystemClock::instance();
  JobQueue queue(db, clock);
  webhooks::WebhookDispatcher dispatcher(db, clock, metrics);
  webhooks::register_topic_handlers(dispatcher, queue, clock);
  JobHandlers handlers;
  register_email_triggers(db, dispatcher, queue, handlers, clock);  // its topics count too

  nlohmann::json out;
  out["webhook_topics"] = dispatcher.topics("shopify");
  out["scopes"] = std::string(kRequiredScopes);
  return out.dump();
}

}  // namespace afterglow::app
