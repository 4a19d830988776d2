// Time is injected. Every delay, expiry, lease and signature tolerance reads a Clock, so tests
// move time by calling ManualClock::advance instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace afterglow {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (UTC). Thread-safe.
  virtual int64_t now_ms() const = 0;
  int64_t now_s() const { return now_ms() / 1000; }
};

// Wall-clock time from the system.
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  // The process-wide instance.
  static const SystemClock& instance();
};

// A clock that moves only when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  void set_ms(int64_t ms) { now_.store(ms); }
  void advance(std::chrono::milliseconds d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace afterglow
