#include "email/step_pump.h"

#include <algorithm>

#include "plugin/core/log.h"

namespace afterglow::email {

StepPump::StepPump(StepRunner& runner, const Clock& clock, std::string name,
                   std::chrono::milliseconds poll, int batch)
    : runner_(runner), clock_(clock), name_(std::move(name)), poll_(poll), batch_(batch) {}

StepPump::~StepPump() { stop(); }

void StepPump::start() { thread_ = std::thread([this] { loop(); }); }

void StepPump::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StepPump::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

void StepPump::loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      woken_ = false;
    }
    auto ran = runner_.run_due(name_, batch_);
    if (!ran) log::warn("step runs could not be claimed", {{"error", ran.error().message}});
    if (ran && *ran == batch_) continue;  // more may be due: no sleep

    std::chrono::milliseconds wait = poll_;
    if (auto next = runner_.next_due_ms(); next && *next) {
      int64_t until = **next - clock_.now_ms();
      wait = std::clamp(std::chrono::milliseconds(until), std::chrono::milliseconds(0), poll_);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, wait, [this] { return stopping_ || woken_; });
    if (stopping_) return;
  }
}

}  // namespace afterglow::email
