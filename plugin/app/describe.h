// `afterglow describe`: what this build expects from the platform, as one JSON object:
//   {"webhook_topics": [...], "scopes": "..."}
// webhook_topics are the Shopify topics with a registered handler (sorted), scopes is
// kRequiredScopes. It needs no database, config or secret, so tests and operators can hold
// manifests/shopify.app.toml to exactly what the binary does (tests/manifests).
#pragma once

#include <string>

namespace afterglow::app {

std::string describe_json();

}  // namespace afterglow::app
