// A background thread that keeps the step runner going: it runs what is due, then sleeps until
// the next step run is due (at most `poll` — other processes add runs too), or until wake().
// `afterglow serve` with WORKERS > 0 and `afterglow worker` start one; several processes may
// each run one against a shared PostgreSQL database (claims are row-locked).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "email/step_runner.h"

namespace afterglow::email {

class StepPump {
 public:
  StepPump(StepRunner& runner, const Clock& clock, std::string name,
           std::chrono::milliseconds poll = std::chrono::seconds(1), int batch = 20);
  ~StepPump();  // stops
  StepPump(const StepPump&) = delete;
  StepPump& operator=(const StepPump&) = delete;

  void start();
  // Lets the current batch finish (a send in flight completes and is recorded), then joins.
  void stop();
  // Looks for due runs now (e.g. after an enrolment in this process).
  void wake();

 private:
  void loop();

  StepRunner& runner_;
  const Clock& clock_;
  std::string name_;
  std::chrono::milliseconds poll_;
  int batch_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace afterglow::email
