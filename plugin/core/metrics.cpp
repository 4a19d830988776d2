#include "plugin/core/metrics.h"

#include <cmath>
#include <cstdio>

namespace afterglow {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

// Inserts an extra label (le="…") into an already rendered label set.
std::string with_label(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

const char* type_name(Metrics::Type t) {
  switch (t) {
    case Metrics::Type::kCounter: return "counter";
    case Metrics::Type::kHistogram: return "histogram";
    case Metrics::Type::kGauge: return "gauge";
  }
  return "untyped";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"";
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    out += "\"";
  }
  return out + "}";
}

const std::vector<double>& Metrics::default_buckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

void Metrics::describe(std::string_view name, Type type, std::string_view help) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = families_.try_emplace(std::string(name));
  if (inserted || it->second.help.empty()) {
    it->second.type = type;
    it->second.help = help;
  }
}

void Metrics::inc(std::string_view name, const Labels& labels, double by) {
  std::string key = render_labels(labels);
  std::lock_guard<std::mutex> lock(mutex_);
  families_[std::string(name)].counters[key] += by;
}

void Metrics::observe(std::string_view name, const Labels& labels, double value) {
  std::string key = render_labels(labels);
  const auto& buckets = default_buckets();
  std::lock_guard<std::mutex> lock(mutex_);
  Family& f = families_[std::string(name)];
  f.type = Type::kHistogram;
  Histogram& h = f.histograms[key];
  if (h.bucket_counts.empty()) h.bucket_counts.assign(buckets.size(), 0);
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (value <= buckets[i]) ++h.bucket_counts[i];
  }
  ++h.count;
  h.sum += value;
}

void Metrics::add_collector(std::string_view name, std::string_view help,
                            std::function<void(const GaugeEmitter&)> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Collector& c : collectors_) {
    if (c.name == name) return;
  }
  collectors_.push_back(Collector{std::string(name), std::string(help), std::move(fn)});
}

double Metrics::counter_value(std::string_view name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto c = it->second.counters.find(render_labels(labels));
  return c == it->second.counters.end() ? 0 : c->second;
}

std::string Metrics::render() const {
  std::string out;
  std::vector<Collector> collectors;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collectors = collectors_;
    const auto& buckets = default_buckets();
    for (const auto& [name, f] : families_) {
      if (f.counters.empty() && f.histograms.empty()) continue;
      if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
      out += "# TYPE " + name + " " + type_name(f.type) + "\n";
      for (const auto& [labels, v] : f.counters) out += name + labels + " " + number(v) + "\n";
      for (const auto& [labels, h] : f.histograms) {
        for (size_t i = 0; i < buckets.size(); ++i) {
          out += name + "_bucket" + with_label(labels, "le=\"" + number(buckets[i]) + "\"") +
                 " " + std::to_string(h.bucket_counts[i]) + "\n";
        }
        out += name + "_bucket" + with_label(labels, "le=\"+Inf\"") + " " +
               std::to_string(h.count) + "\n";
        out += name + "_sum" + labels + " " + number(h.sum) + "\n";
        out += name + "_count" + labels + " " + std::to_string(h.count) + "\n";
      }
    }
  }
  // Collectors may query the database: run them outside the lock.
  for (const Collector& c : collectors) {
    out += "# HELP " + c.name + " " + c.help + "\n# TYPE " + c.name + " gauge\n";
    c.fn([&](std::string_view name, const Labels& labels, double v) {
      out += std::string(name) + render_labels(labels) + " " + number(v) + "\n";
    });
  }
  return out;
}

}  // namespace afterglow
