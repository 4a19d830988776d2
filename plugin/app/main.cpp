// afterglow serve | worker [--drain] | migrate | jobs [--retry ID] |
//           seed-demo [--platform-token-file FILE] | describe
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "email/step_pump.h"
#include "plugin/app/app_context.h"
#include "plugin/app/demo_seed.h"
#include "plugin/app/describe.h"
#include "plugin/app/server.h"
#include "plugin/core/log.h"
#include "plugin/core/migrations.h"

using namespace afterglow;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: afterglow [--config FILE] <command>\n"
               "  serve              HTTPS server (+ WORKERS in-process job workers)\n"
               "  worker [--drain]   job workers only; --drain runs due jobs and exits\n"
               "  migrate            apply pending schema migrations\n"
               "  jobs [--retry ID]  queue counts by state and dead jobs; requeue one\n"
               "  seed-demo [--platform-token-file FILE]\n"
               "                     create the demo shop and sample data (development)\n"
               "  describe           JSON: handled webhook topics and required scopes\n");
  return 2;
}

Result<Config> config_for(const std::string& file, ConfigPurpose purpose) {
  auto c = load_config(process_environment(), file, purpose);
  if (c) {
    log::Level level;
    log::parse_level(c->log_level, &level);
    log::set_level(level);
  }
  return c;
}

int die(const Error& e) {
  log::error("fatal", {{"error", e.message}});
  std::fprintf(stderr, "afterglow: %s\n", e.message.c_str());
  return 1;
}

// Blocks SIGINT/SIGTERM in every thread; a dedicated thread waits for them and calls `on_stop`.
std::thread start_signal_thread(std::function<void()> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, on_stop = std::move(on_stop)] {
    int sig = 0;
    sigwait(&set, &sig);
    log::info("shutting down", {{"signal", sig}});
    on_stop();
  });
}

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int serve(const std::string& file) {
  auto config = config_for(file, ConfigPurpose::kServe);
  if (!config) return die(config.error());
  block_signals();  // before any thread starts, so only the signal thread receives them
  auto app = app::build_app(*config, SystemClock::instance(), /*migrate=*/true);
  if (!app) return die(app.error());
  app::AppContext& a = **app;

  WorkerPool workers(*a.queue, a.handlers, a.metrics, app::worker_options(a, a.config.workers));
  app::Server server(a.config, *a.db, *a.queue, a.clock, a.metrics,
                     [&workers] { workers.notify(); });
  server.set_platform(a.platform.get());
  server.set_checkout(a.checkout.get());
  server.set_email(a.email.get());
  auto ports = server.bind();
  if (!ports) return die(ports.error());
  workers.start();
  // Sequence steps are sent by their own thread: a send waits on a mail or SMS server for
  // seconds, and must not hold a job worker from webhooks meanwhile.
  std::unique_ptr<email::StepPump> pump;
  if (a.config.workers > 0) {
    pump = std::make_unique<email::StepPump>(*a.email->runner, a.clock, app::process_name());
    pump->start();
  }

  log::info("listening", {{"https_port", ports->first}, {"http_port", ports->second},
                          {"workers", a.config.workers}, {"config", a.config.describe()}});
  if (a.config.ready_fd >= 0) {
    std::string line = std::to_string(ports->first) + " " + std::to_string(ports->second) + "\n";
    (void)!write(a.config.ready_fd, line.data(), line.size());
    close(a.config.ready_fd);
  }

  std::thread signals = start_signal_thread([&server] { server.stop(); });
  server.run();  // returns after stop(), once in-flight requests finished
  a.offer_events->flush();  // the last decisions and impressions reach the database
  if (pump) pump->stop();  // a send in flight finishes and is recorded
  workers.stop();  // each worker finishes its current job
  signals.join();
  log::info("stopped");
  return 0;
}

int worker(const std::string& file, bool drain) {
  auto config = config_for(file, ConfigPurpose::kWorker);
  if (!config) return die(config.error());
  block_signals();
  auto app = app::build_app(*config, SystemClock::instance(), /*migrate=*/true);
  if (!app) return die(app.error());
  app::AppContext& a = **app;
  WorkerOptions wo = app::worker_options(a, std::max(1, a.config.workers));
  WorkerPool workers(*a.queue, a.handlers, a.metrics, wo);
  if (drain) {
    auto n = workers.drain();
    if (!n) return die(n.error());
    int steps = 0;
    for (;;) {
      auto ran = a.email->runner->run_due(app::process_name(), 50);
      if (!ran) return die(ran.error());
      if (*ran == 0) break;
      steps += *ran;
    }
    std::printf("ran %d job(s) and %d sequence step(s)\n", *n, steps);
    return 0;
  }
  workers.start();
  email::StepPump pump(*a.email->runner, a.clock, app::process_name());
  pump.start();
  log::info("worker started", {{"threads", wo.threads}});
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread signals = start_signal_thread([&] {
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
  }
  pump.stop();
  workers.stop();
  signals.join();
  log::info("stopped");
  return 0;
}

int migrate_cmd(const std::string& file) {
  auto config = config_for(file, ConfigPurpose::kAdmin);
  if (!config) return die(config.error());
  DbOptions options;
  options.sqlite_synchronous = config->sqlite_synchronous;
  options.pool_size = config->database_pool_size;
  auto db = open_database(config->database_url, options);
  if (!db) return die(db.error());
  auto n = migrate(**db);
  if (!n) return die(n.error());
  std::printf("applied %d migration(s); schema is current\n", *n);
  return 0;
}

int jobs_cmd(const std::string& file, const std::vector<std::string>& args) {
  auto config = config_for(file, ConfigPurpose::kAdmin);
  if (!config) return die(config.error());
  auto app = app::build_app(*config, SystemClock::instance(), /*migrate=*/true);
  if (!app) return die(app.error());
  JobQueue& q = *(*app)->queue;
  if (args.size() == 2 && args[0] == "--retry") {
    char* end = nullptr;
    long long id = std::strtoll(args[1].c_str(), &end, 10);
    if (*end != '\0' || id <= 0) return usage();
    auto ok = q.retry(id);
    if (!ok) return die(ok.error());
    if (!*ok) {
      std::fprintf(stderr, "afterglow: job %lld is not dead or cancelled\n", id);
      return 1;
    }
    std::printf("job %lld requeued\n", id);
    return 0;
  }
  if (!args.empty()) return usage();
  auto counts = q.counts_by_state();
  if (!counts) return die(counts.error());
  std::printf("%-10s %s\n", "state", "jobs");
  for (const auto& [state, n] : *counts) std::printf("%-10s %lld\n", state.c_str(), (long long)n);
  auto dead = q.dead_jobs(50);
  if (!dead) return die(dead.error());
  if (!dead->empty()) {
    std::printf("\ndead jobs (newest first):\n%-8s %-18s %-8s %s\n", "id", "kind", "attempts",
                "last error");
    for (const DeadJob& d : *dead) {
      std::printf("%-8lld %-18s %-8d %s\n", (long long)d.id, d.kind.c_str(), d.attempt,
                  d.last_error.c_str());
    }
  }
  return 0;
}

// seed-demo [--platform-token-file FILE]: FILE holds the access token the development platform
// accepts for the demo shop (scripts/run.sh makes it); it is stored encrypted, never printed.
int seed_cmd(const std::string& file, const std::vector<std::string>& args) {
  std::string token_file;
  if (args.size() == 2 && args[0] == "--platform-token-file") {
    token_file = args[1];
  } else if (!args.empty()) {
    return usage();
  }
  auto config = config_for(file, ConfigPurpose::kAdmin);
  if (!config) return die(config.error());
  auto app = app::build_app(*config, SystemClock::instance(), /*migrate=*/true);
  if (!app) return die(app.error());
  app::DemoSeedOptions options;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string token;
    if (!(in >> token)) {
      return die(Error{ErrorCode::kInvalidArgument, "cannot read " + token_file});
    }
    if (!(*app)->platform->ready()) {
      return die(Error{ErrorCode::kInvalidArgument, app::kNoEncryptionKey});
    }
    options.tokens = (*app)->platform->tokens.get();
    options.platform_access_token = token;
  }
  auto r = app::seed_demo(*(*app)->db, SystemClock::instance(), options);
  if (!r) return die(r.error());
  std::printf("%s\n", r->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_file;
  if (args.size() >= 2 && args[0] == "--config") {
    config_file = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) return usage();
  std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "serve" && rest.empty()) return serve(config_file);
  if (cmd == "worker" && rest.empty()) return worker(config_file, false);
  if (cmd == "worker" && rest == std::vector<std::string>{"--drain"}) return worker(config_file, true);
  if (cmd == "migrate" && rest.empty()) return migrate_cmd(config_file);
  if (cmd == "jobs") return jobs_cmd(config_file, rest);
  if (cmd == "seed-demo") return seed_cmd(config_file, rest);
  if (cmd == "describe" && rest.empty()) {
    std::printf("%s\n", app::describe_json().c_str());  // no config, database or secret needed
    return 0;
  }
  return usage();
}
