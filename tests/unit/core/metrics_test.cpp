// plugin/core/metrics: the Prometheus text exposition (HELP/TYPE, labelled counters, cumulative
// histogram buckets, label escaping, scrape-time gauges).
#include "plugin/core/metrics.h"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace afterglow {
namespace {

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

uint64_t sample_value(const std::string& line) {
  return std::stoull(line.substr(line.rfind(' ') + 1));
}

TEST_CASE("metrics: a described counter renders HELP, TYPE and one line per label set",
          "[metrics]") {
  Metrics m;
  m.describe("afterglow_webhooks_total", Metrics::Type::kCounter, "Webhooks received.");
  m.inc("afterglow_webhooks_total", {{"source", "shopify"}, {"result", "accepted"}});
  m.inc("afterglow_webhooks_total", {{"source", "shopify"}, {"result", "accepted"}});
  m.inc("afterglow_webhooks_total", {{"source", "stripe"}, {"result", "rejected"}}, 3);
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("# HELP afterglow_webhooks_total Webhooks received.\n"
                                   "# TYPE afterglow_webhooks_total counter\n"));
  CHECK_THAT(text, Catch::Contains(
                       "afterglow_webhooks_total{source=\"shopify\",result=\"accepted\"} 2\n"));
  CHECK_THAT(text,
             Catch::Contains("afterglow_webhooks_total{source=\"stripe\",result=\"rejected\"} 3\n"));
  CHECK(lines_starting(text, "# TYPE afterglow_webhooks_total").size() == 1);
  CHECK(m.counter_value("afterglow_webhooks_total",
                        {{"source", "shopify"}, {"result", "accepted"}}) == 2);
  CHECK(m.counter_value("afterglow_webhooks_total", {{"source", "none"}}) == 0);
  CHECK(m.counter_value("never_seen", {}) == 0);
}

TEST_CASE("metrics: a counter without labels renders bare, and unused families not at all",
          "[metrics]") {
  Metrics m;
  m.describe("afterglow_idle_total", Metrics::Type::kCounter, "Never incremented.");
  m.inc("afterglow_boots_total");
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("\nafterglow_boots_total 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE afterglow_boots_total counter\n"));
  CHECK(text.find("afterglow_idle_total") == std::string::npos);
}

TEST_CASE("metrics: histogram buckets are cumulative and +Inf equals the count", "[metrics]") {
  Metrics m;
  m.describe("afterglow_http_seconds", Metrics::Type::kHistogram, "Request time.");
  const Labels labels = {{"route", "/webhooks/shopify"}};
  for (double v : {0.0004, 0.003, 0.003, 0.3, 1.0, 20.0}) m.observe("afterglow_http_seconds", labels, v);
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("# TYPE afterglow_http_seconds histogram\n"));

  const auto buckets = lines_starting(text, "afterglow_http_seconds_bucket{");
  REQUIRE(buckets.size() == Metrics::default_buckets().size() + 1);
  uint64_t previous = 0;
  for (const std::string& line : buckets) {
    INFO(line);
    CHECK_THAT(line, Catch::StartsWith("afterglow_http_seconds_bucket{route=\"/webhooks/shopify\",le=\""));
    CHECK(sample_value(line) >= previous);
    previous = sample_value(line);
  }
  CHECK_THAT(text, Catch::Contains("le=\"0.0005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("le=\"0.0025\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("le=\"0.005\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("le=\"0.25\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("le=\"0.5\"} 4\n"));
  CHECK_THAT(text, Catch::Contains("le=\"1\"} 5\n"));  // a bucket's bound is inclusive
  CHECK_THAT(text, Catch::Contains("le=\"10\"} 5\n"));
  CHECK(buckets.back() == "afterglow_http_seconds_bucket{route=\"/webhooks/shopify\",le=\"+Inf\"} 6");
  CHECK_THAT(text, Catch::Contains("afterglow_http_seconds_count{route=\"/webhooks/shopify\"} 6\n"));
  CHECK_THAT(text,
             Catch::Contains("afterglow_http_seconds_sum{route=\"/webhooks/shopify\"} 21.3064\n"));
}

TEST_CASE("metrics: a histogram without labels puts le in its own braces", "[metrics]") {
  Metrics m;
  m.observe("afterglow_tick_seconds", {}, 0.02);
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("afterglow_tick_seconds_bucket{le=\"0.025\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("afterglow_tick_seconds_bucket{le=\"+Inf\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("afterglow_tick_seconds_count 1\n"));
}

TEST_CASE("metrics: label values escape backslash, quote and newline", "[metrics]") {
  CHECK(render_labels({}) == "");
  CHECK(render_labels({{"a", "x"}, {"b", "y"}}) == "{a=\"x\",b=\"y\"}");
  CHECK(render_labels({{"v", "a\"b\\c\nd"}}) == "{v=\"a\\\"b\\\\c\\nd\"}");
  Metrics m;
  m.inc("afterglow_odd_total", {{"path", "C:\\tmp\n\"x\""}});
  CHECK_THAT(m.render(), Catch::Contains("afterglow_odd_total{path=\"C:\\\\tmp\\n\\\"x\\\"\"} 1\n"));
  CHECK(m.counter_value("afterglow_odd_total", {{"path", "C:\\tmp\n\"x\""}}) == 1);
}

TEST_CASE("metrics: collectors add gauges at scrape time", "[metrics]") {
  Metrics m;
  int depth = 4;
  m.add_collector("afterglow_queue_depth", "Jobs by state.", [&](const Metrics::GaugeEmitter& emit) {
    emit("afterglow_queue_depth", {{"state", "scheduled"}}, depth);
  });
  // A second registration under the same name is ignored.
  m.add_collector("afterglow_queue_depth", "Duplicate.", [](const Metrics::GaugeEmitter& emit) {
    emit("afterglow_queue_depth", {{"state", "dup"}}, 1);
  });
  CHECK_THAT(m.render(), Catch::Contains("# HELP afterglow_queue_depth Jobs by state.\n"
                                         "# TYPE afterglow_queue_depth gauge\n"
                                         "afterglow_queue_depth{state=\"scheduled\"} 4\n"));
  depth = 9;
  const std::string text = m.render();
  CHECK_THAT(text, Catch::Contains("afterglow_queue_depth{state=\"scheduled\"} 9\n"));
  CHECK(text.find("dup") == std::string::npos);
}

}  // namespace
}  // namespace afterglow
