// The sequence scheduler against a large backlog, on SQLite: N pending step runs (N people in a
// live flow, each with consent), of which --due are due now and the rest spread over 30 days.
// For each N it prints the time to seed, the resident memory with the backlog stored, the cost
// of one claim, and the throughput of running the due steps end to end (claim, send-time
// policy, composing the MIME message, recording it) with the channel replaced by a sink that
// accepts every message: the product's Mailer seam, implemented here, not in the product.
//
//   build-release/bench/scheduler_bench [--pending "10000 100000 1000000"] [--due 20000]
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "email/consent.h"
#include "email/flow_store.h"
#include "email/step_runner.h"
#include "email/tracking_token.h"
#include "plugin/core/clock.h"
#include "plugin/core/migrations.h"
#include "plugin/core/shop_settings.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"

using namespace afterglow;
using namespace afterglow::email;
using Clock_ = std::chrono::steady_clock;

namespace {

constexpr int64_t kStart = 1'772'550'000'000;  // a Tuesday, 15:00 UTC

// Accepts everything, as a mail server on the same machine with no latency would.
class SinkMailer final : public Mailer {
 public:
  MailResult send(const OutgoingEmail& email) override {
    bytes += email.raw_message.size();
    ++sent;
    return {MailOutcome::kSent, 250, "queued", false};
  }
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> bytes{0};
};

long rss_kb(const char* field = "VmRSS:") {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

double seconds_since(Clock_::time_point t) {
  return std::chrono::duration<double>(Clock_::now() - t).count();
}

void check(const Result<void>& r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
}

void run_one(int64_t pending, int64_t due) {
  testing::TempDir dir("scheduler-bench");
  std::string path = dir.path() + "/bench.db";
  auto opened = open_database("sqlite:" + path, DbOptions{.sqlite_synchronous = "NORMAL"});
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    std::exit(1);
  }
  Db& db = **opened;
  if (auto m = migrate(db); !m) {
    std::fprintf(stderr, "migrate: %s\n", m.error().message.c_str());
    std::exit(1);
  }
  int64_t shop = testing::seed_installed_shop(db, "bench-shop.myshopify.com");
  ShopSettings s;
  s.sender_name = "Bench Shop";
  s.sender_email = "hello@bench.example";
  s.postal_address = "1 Bench Street, Springfield";
  check(db.write([&](Tx& tx) { return save_shop_settings(tx, shop, s); }), "settings");

  nlohmann::json step{{"id", "mail"},
                      {"type", "send_email"},
                      {"subject", "Hi {{first_name|there}}"},
                      {"body", "<p>Thanks for your order {{order_name}}.</p>"}};
  nlohmann::json flow_json{{"name", "bench"},
                           {"status", "live"},
                           {"trigger", "order_paid"},
                           {"steps", nlohmann::json::array({step})},
                           {"exit_conditions", {"ordered_since_start", "unsubscribed"}}};
  auto flow = flow_from_json(flow_json);
  int64_t flow_id = 0;
  check(db.write([&](Tx& tx) -> Result<void> {
          flow_id = AG_TRY(insert_flow(tx, shop, *flow, kStart)).id;
          return {};
        }),
        "flow");

  // Seed: one person, one consent, one enrolment and one pending run each, 10 000 per
  // transaction. `due` of them are due now; the rest over the next 30 days.
  auto t0 = Clock_::now();
  const int64_t batch = 10'000;
  for (int64_t first = 0; first < pending; first += batch) {
    check(db.write([&](Tx& tx) -> Result<void> {
            for (int64_t i = first; i < std::min(pending, first + batch); ++i) {
              std::string email = "p" + std::to_string(i) + "@bench.example";
              AG_CHECK(tx.exec(
                  "INSERT INTO consents (shop_id, channel, address, customer_id, state, source, "
                  "updated_at_ms) VALUES (?, 'email', ?, ?, 'subscribed', 'bench', ?)",
                  {shop, email, i + 1, kStart}));
              auto e = AG_TRY(tx.query(
                  "INSERT INTO enrolments (shop_id, flow_id, flow_version, enrolment_key, "
                  "person_key, customer_id, email, trigger_kind, trigger_ref, trigger_data, "
                  "state, entered_at_ms) VALUES (?, ?, 1, ?, ?, ?, ?, 'order_paid', ?, ?, "
                  "'active', ?) RETURNING id",
                  {shop, flow_id, "order:" + std::to_string(i), "customer:" + std::to_string(i + 1),
                   i + 1, email, "order:" + std::to_string(i),
                   std::string("{\"order_name\":\"#") + std::to_string(i) +
                       "\",\"first_name\":\"Pat\"}",
                   kStart}));
              int64_t due_at = i < due ? kStart : kStart + 60'000 + (i * 2'591'000'000LL) / pending;
              AG_CHECK(tx.exec(
                  "INSERT INTO step_runs (shop_id, enrolment_id, step_id, state, due_at_ms, "
                  "expires_at_ms, created_at_ms, updated_at_ms) "
                  "VALUES (?, ?, 'mail', 'pending', ?, ?, ?, ?)",
                  {shop, e.at(0).i64(0), due_at, due_at + 86'400'000, kStart, kStart}));
            }
            return {};
          }),
          "seed");
  }
  double seed_s = seconds_since(t0);
  long rss_seeded = rss_kb();

  ManualClock clock(kStart);
  SinkMailer sink;
  StepRunnerConfig config;
  config.app_url = "https://afterglow.bench";
  config.tracking_key = tracking_key("bench-secret");
  config.mail_from = "bounces@afterglow.bench";
  StepRunner runner(db, clock, &sink, nullptr, config);

  // One claim of 20 from the head of the backlog, then given back (fresh runs stay pending).
  auto tc = Clock_::now();
  auto claimed = runner.claim("bench", 20);
  double claim_ms = seconds_since(tc) * 1000;
  if (!claimed) {
    std::fprintf(stderr, "claim: %s\n", claimed.error().message.c_str());
    std::exit(1);
  }
  for (const ClaimedRun& r : *claimed) check(runner.run(r), "run");

  auto tr = Clock_::now();
  int64_t ran = static_cast<int64_t>(claimed->size());
  for (;;) {
    auto n = runner.run_due("bench", 50);
    if (!n) {
      std::fprintf(stderr, "run_due: %s\n", n.error().message.c_str());
      std::exit(1);
    }
    if (*n == 0) break;
    ran += *n;
  }
  double run_s = seconds_since(tr);
  int64_t sent = 0, still_pending = 0;
  check(db.read([&](Tx& tx) -> Result<void> {
          sent = AG_TRY(tx.query_one("SELECT COUNT(*) FROM messages WHERE state = 'sent'"))->i64(0);
          still_pending =
              AG_TRY(tx.query_one("SELECT COUNT(*) FROM step_runs WHERE state = 'pending'"))
                  ->i64(0);
          return {};
        }),
        "count");

  std::printf(
      "%9lld pending | seed %6.1f s | RSS seeded %6.1f MB, after run %6.1f MB, peak %6.1f MB | "
      "claim of 20: %6.2f ms | ran %lld due in %6.2f s = %7.0f steps/s (%lld sent, sink got %lld, "
      "%.1f KB each) | %lld still pending\n",
      static_cast<long long>(pending), seed_s, rss_seeded / 1024.0, rss_kb() / 1024.0,
      rss_kb("VmHWM:") / 1024.0, claim_ms, static_cast<long long>(ran), run_s,
      ran / std::max(run_s, 1e-9), static_cast<long long>(sent),
      static_cast<long long>(sink.sent.load()),
      sink.sent ? sink.bytes.load() / 1024.0 / sink.sent.load() : 0.0,
      static_cast<long long>(still_pending));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes{10'000, 100'000, 1'000'000};
  int64_t due = 20'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--pending") {
      sizes.clear();
      std::istringstream in(argv[i + 1]);
      for (int64_t n; in >> n;) sizes.push_back(n);
    } else if (a == "--due") {
      due = std::atoll(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: %s [--pending \"10000 100000 1000000\"] [--due 20000]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("scheduler_bench: SQLite (WAL, synchronous=NORMAL), one email step per person, "
              "%lld due now (capped at the backlog), the rest over 30 days\n",
              static_cast<long long>(due));
  for (int64_t n : sizes) run_one(n, std::min(n, due));
  return 0;
}
