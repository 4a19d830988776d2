#include "plugin/app/test_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "plugin/core/log.h"

namespace afterglow::app {
namespace {

// Writes all of `text` to `fd`; false on an error.
bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The payload as JSON; a payload that is not a JSON object can never run.
Result<nlohmann::json> payload_of(const Job& job) {
  auto payload = nlohmann::json::parse(job.payload, nullptr, false);
  if (!payload.is_object()) {
    return fail(ErrorCode::kInvalidArgument, job.kind + ": the payload is not a JSON object");
  }
  return payload;
}

// Appends "<job id> <attempt> <pid>" to the payload's "runs" file, if it names one.
Result<void> record_run(const nlohmann::json& payload, const Job& job) {
  auto runs = payload.find("runs");
  if (runs == payload.end()) return {};
  if (!runs->is_string()) return fail(ErrorCode::kInvalidArgument, job.kind + ": bad \"runs\"");
  const std::string path = runs->get<std::string>();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return fail(ErrorCode::kInternal, path + ": " + std::strerror(errno));
  bool ok = write_all(fd, std::to_string(job.id) + " " + std::to_string(job.attempt) + " " +
                              std::to_string(getpid()) + "\n");
  close(fd);
  if (!ok) return fail(ErrorCode::kInternal, path + ": write failed");
  return {};
}

Result<void> run_noop(const Job& job) {
  auto payload = AG_TRY(payload_of(job));
  return record_run(payload, job);
}

Result<void> run_block(const Job& job) {
  auto payload = AG_TRY(payload_of(job));
  auto fifo = payload.find("fifo");
  if (fifo == payload.end() || !fifo->is_string()) {
    return fail(ErrorCode::kInvalidArgument, "test.block needs a payload {\"fifo\": PATH}");
  }
  AG_CHECK(record_run(payload, job));
  if (job.attempt > 1) return {};

  // Opening blocks until the test opens the FIFO for reading, so no one polls for the pid.
  const std::string path = fifo->get<std::string>();
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::kInternal, path + ": " + std::strerror(errno));
  bool ok = write_all(fd, std::to_string(getpid()) + "\n");
  close(fd);
  if (!ok) return fail(ErrorCode::kInternal, path + ": write failed");
  // Hold the job until the process dies (the test kill -9s it). This process installs no
  // signal handler (SIGTERM/SIGINT are blocked and taken by sigwait), so pause() does not
  // return; the loop only guards against a spurious wake-up.
  for (;;) pause();
}

}  // namespace

void register_test_hooks(const Config& config, JobHandlers& handlers) {
  if (!config.test_hooks) return;
  log::warn(
      "AFTERGLOW_TEST_HOOKS is set: test-only job kinds are registered; never set it in "
      "a deployment",
      {{"kinds", std::string(kTestNoopJobKind) + " " + kTestBlockJobKind}});
  handlers.add(kTestNoopJobKind, run_noop);
  handlers.add(kTestBlockJobKind, run_block);
}

}  // namespace afterglow::app
