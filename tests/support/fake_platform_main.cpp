// afterglow-dev-platform: the fake platform (fake_platform.h) as a program, for development
// (scripts/run.sh) and for the browser demo test and the checkout benchmark. It serves the demo
// shop's catalogue, currency and order #1001 (plugin/app/demo_catalog.h, the same data
// `afterglow seed-demo` writes) and accepts the demo shop's access token, so an accepted offer is
// appended to that order over the real Admin GraphQL wire format.
//
//   afterglow-dev-platform --access-token-file FILE [--client-id KEY] [--order ID]...
//
// FILE holds the access token (`afterglow seed-demo --platform-token-file FILE` stores the same
// one, encrypted); it is never printed. --order adds more orders of the demo shop that edits may
// append to (the benchmark's). Prints `listening <port> <ca_file>` once it accepts connections
// (PLATFORM_API_BASE=https://127.0.0.1:<port>, PLATFORM_CA_FILE=<ca_file>), then serves on
// 127.0.0.1 until SIGTERM or SIGINT. The CA file is removed when it exits.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "plugin/app/demo_catalog.h"
#include "plugin/core/clock.h"
#include "plugin/core/crypto.h"
#include "tests/support/fake_platform.h"

using namespace afterglow;

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "afterglow-dev-platform: %s\n"
               "usage: afterglow-dev-platform --access-token-file FILE [--client-id KEY] "
               "[--order ID]...\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string token_file, client_id = "dev_api_key";
  std::vector<int64_t> orders = {app::kDemoOrderId};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--access-token-file") {
      token_file = value;
    } else if (arg == "--client-id") {
      client_id = value;
    } else if (arg == "--order") {
      char* end = nullptr;
      long long id = std::strtoll(value.c_str(), &end, 10);
      if (*end != '\0' || id <= 0) return usage("--order takes a positive order id");
      orders.push_back(id);
    } else {
      return usage(("unknown argument " + arg).c_str());
    }
  }
  if (token_file.empty()) return usage("--access-token-file is required");
  std::string token;
  if (!(std::ifstream(token_file) >> token)) return usage(("cannot read " + token_file).c_str());

  // Signals are taken by sigwait below, in this thread; block them before the server's threads
  // start so they inherit the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  testing::FakePlatform::Options options;
  options.client_id = client_id;
  options.client_secret = crypto::random_hex(32);  // no OAuth grants are made in development
  testing::FakePlatform platform(options);
  const int64_t now = SystemClock::instance().now_ms();
  platform.set_currency(app::kDemoShopDomain, app::kDemoCurrency);
  for (const CatalogProduct& p : app::demo_products(now)) {
    platform.put_product(app::kDemoShopDomain, p);
  }
  for (int64_t id : orders) platform.add_order(app::kDemoShopDomain, id);
  platform.add_access_token(app::kDemoShopDomain, token);

  std::string base = platform.base_url();
  std::printf("listening %s %s\n", base.substr(base.rfind(':') + 1).c_str(),
              platform.ca_file().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}
