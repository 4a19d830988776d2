// Process metrics in the Prometheus text format (version 0.0.4): counters and histograms with
// labels, plus gauges computed at scrape time (e.g. queue depth read from the database).
// Thread-safe. Label values must not carry secrets or unbounded ids (route patterns, not paths).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace afterglow {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { kCounter, kHistogram, kGauge };

  // Declares a metric's type and help text; the first declaration wins.
  void describe(std::string_view name, Type type, std::string_view help);
  void inc(std::string_view name, const Labels& labels = {}, double by = 1);
  // Adds one observation (seconds, for latencies) to a histogram with the default buckets.
  void observe(std::string_view name, const Labels& labels, double value);
  // A callback that appends gauge samples at scrape time: fn(emit) with
  // emit(name, labels, value). Registered once per name.
  using GaugeEmitter = std::function<void(std::string_view, const Labels&, double)>;
  void add_collector(std::string_view name, std::string_view help,
                     std::function<void(const GaugeEmitter&)> fn);

  // The whole exposition text.
  std::string render() const;
  // Current value of a counter (tests and diagnostics); 0 if never incremented.
  double counter_value(std::string_view name, const Labels& labels) const;

  static const std::vector<double>& default_buckets();

 private:
  struct Histogram {
    std::vector<uint64_t> bucket_counts;
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::map<std::string, double> counters;        // rendered label set -> value
    std::map<std::string, Histogram> histograms;
  };
  struct Collector {
    std::string name, help;
    std::function<void(const GaugeEmitter&)> fn;
  };

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<Collector> collectors_;
};

// Renders labels as {a="x",b="y"} with Prometheus escaping; "" for none.
std::string render_labels(const Labels& labels);

}  // namespace afterglow
