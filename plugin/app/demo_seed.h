// The demo shop a newcomer sees after the README's run command: an installed shop with a couple
// of orders. Idempotent.
#pragma once

#include <string>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace afterglow::app {

inline constexpr const char* kDemoShopDomain = "afterglow-demo.myshopify.com";

// Returns a one-line summary of what exists afterwards.
Result<std::string> seed_demo(Db& db, const Clock& clock);

}  // namespace afterglow::app
