// Read-only views for the merchant page over tables other modules own: the webhook inbox, dead
// jobs and customer data exports. Each is scoped to one shop; nothing here writes.
//
// They live in the shell because only the admin API reads them this way; if another module
// starts to need them, they move next to the table's owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugin/core/db.h"

namespace afterglow::app {

struct InboxEntry {
  int64_t id = 0;
  std::string source, topic, delivery_id, state, note;
  int64_t received_at_ms = 0;
  std::optional<int64_t> processed_at_ms;
};

struct DeadJobEntry {
  int64_t id = 0;
  std::string kind;
  int64_t attempt = 0, max_attempts = 0;
  std::string last_error;
  int64_t created_at_ms = 0;
  std::optional<int64_t> finished_at_ms;
};

struct ExportEntry {
  int64_t id = 0;
  std::optional<int64_t> customer_id, data_request_id;
  int64_t created_at_ms = 0;
  std::string content;  // the JSON document (only filled by find_export)
  int64_t size_bytes = 0;
};

// Newest first; `before_id` 0 means from the newest. `state` empty means any state.
Result<std::vector<InboxEntry>> list_inbox(Tx& tx, const std::string& shop_domain,
                                           const std::string& state, int64_t before_id, int limit);

// Dead jobs that belong to the shop: jobs tagged with its id, and webhook processing jobs of its
// deliveries (those are enqueued before the shop is known, so they carry no shop id). Newest first.
Result<std::vector<DeadJobEntry>> list_dead_jobs(Tx& tx, int64_t shop_id,
                                                 const std::string& shop_domain, int64_t before_id,
                                                 int limit);
// The job's state when it belongs to the shop (see above), else nullopt.
Result<std::optional<std::string>> shop_job_state(Tx& tx, int64_t shop_id,
                                                  const std::string& shop_domain, int64_t job_id);

// Newest first, without content.
Result<std::vector<ExportEntry>> list_exports(Tx& tx, int64_t shop_id, int64_t before_id,
                                              int limit);
Result<std::optional<ExportEntry>> find_export(Tx& tx, int64_t shop_id, int64_t export_id);

}  // namespace afterglow::app
