// Test-only job kinds, for the integration tests that run several processes against one database
// (tests/integration/scale_out_test.cpp). Registered only when the config says
// AFTERGLOW_TEST_HOOKS=1; a deployment never sets it, and a process that has them logs a warning
// at start.
//
// Both kinds take an optional "runs": PATH in their JSON payload; each run then appends the line
// "<job id> <attempt> <pid>\n" to that file (one O_APPEND write, so lines from several processes
// never interleave): the test sees which process ran what, and how often.
//
//   test.noop   completes at once. Lets a test check the queue alone.
//   test.block  payload {"fifo": PATH, "runs": PATH}. On attempt 1 it opens the FIFO at `fifo`
//               for writing, writes "<pid>\n", and blocks until the process dies: the test, blocked
//               reading the FIFO, learns which process holds the job and can kill -9 it mid-job.
//               On any later attempt it completes at once.
#pragma once

#include "plugin/core/config.h"
#include "plugin/core/worker_pool.h"

namespace afterglow::app {

inline constexpr const char* kTestNoopJobKind = "test.noop";
inline constexpr const char* kTestBlockJobKind = "test.block";

// Adds the kinds above to `handlers` when `config.test_hooks` is set; otherwise does nothing.
void register_test_hooks(const Config& config, JobHandlers& handlers);

}  // namespace afterglow::app
