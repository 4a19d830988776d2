// POST /events/viewed (also GET, for the app proxy): the storefront reports that a known person
// looked at a product, which feeds the browse flows (email/triggers.h record_product_view).
//
// Two ways in, each authenticated; nothing is trusted before its signature checks out:
//
// (a) Through the platform's app proxy (spec/shopify.md §6.1, §7.2). The shop's theme calls
//     /apps/{subpath}/viewed?product_id=…; the platform forwards it to our proxy URL (configure
//     the app proxy's url as {APP_URL}/events, so the request lands here) and adds shop,
//     logged_in_customer_id, path_prefix, timestamp and `signature` = hex HMAC-SHA256 under the
//     app secret of every other query parameter, URL-decoded, repeated keys' values joined with
//     ',', as "key=value" sorted by key and concatenated with no separator. The timestamp must be
//     within 90 s of our clock either way (oauth::kTimestampTolerance): the platform documents
//     no bound, and its own library (@shopify/shopify-api validateHmac, signator appProxy) uses
//     90 s, so a captured URL cannot be replayed later. The customer is logged_in_customer_id; a
//     guest (empty or absent) is answered 204 and nothing is stored. product_id (and
//     variant_id) come from the query, else from a JSON body (the proxy signs only the query;
//     the shop and the customer, which are signed, are what matter).
//
// (b) From a merchant's own backend (headless storefronts): a JSON body
//     {"shop": "{name}.myshopify.com", "customer_id": ID or "email": "…", "product_id": ID,
//      "variant_id": ID?} (ids as numbers or decimal strings) with the header
//     X-Afterglow-Storefront-Signature: hex HMAC-SHA256(storefront_key, raw body), where
//     storefront_key = storefront_key(app secret, shop domain). The merchant copies the key
//     from the admin page; it is derived, so nothing per shop is stored, and rotating the app
//     secret changes every shop's key (keys of APP_API_SECRET_PREVIOUS keep working while it is
//     set). The body carries no time: a replayed body can at most record the same view again,
//     which the one-enrolment-per-product-per-day key and the 30-minute reload rule absorb.
//
// Answers (JSON errors as everywhere, plugin/core/http_reply.h):
//   202 {"status":"accepted"}  stored (or recognised as a repeat)
//   204                        app-proxy guest: nothing to store
//   400  malformed: no JSON object, a bad shop domain, no product, no customer or email,
//        a missing or non-integer timestamp
//   401  missing or wrong signature, or a timestamp outside the 90 s window
//   404  a correctly signed request for a shop we do not have installed (unknown or
//        uninstalled): the signature proves the caller holds the key, so saying "no such shop"
//        reveals nothing to a stranger, and tells the merchant's developer what is wrong
//   413  a body over 16 KB
//   503  the database is unavailable
// The work is one short write transaction (a product_views row and the enrolments); no provider
// is called, so the answer comes at once.
//
// Thread-safe: the handlers keep no state; the services are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace httplib {
class Server;
}

namespace afterglow::email {

inline constexpr std::string_view kStorefrontEventsPath = "/events/viewed";
inline constexpr std::string_view kStorefrontSignatureHeader = "X-Afterglow-Storefront-Signature";
inline constexpr size_t kStorefrontMaxBody = 16 * 1024;

// The references must outlive every server the route is mounted on.
struct StorefrontServices {
  Db& db;
  const Clock& clock;
  std::vector<std::string> app_secrets;  // APP_API_SECRET, then APP_API_SECRET_PREVIOUS if set
};

// Registers GET and POST /events/viewed on `server`.
void mount_storefront_events(httplib::Server& server, StorefrontServices& services);

// The shop's storefront key: lower-case hex HMAC-SHA256(app_secret,
// "afterglow storefront v1|" + shop_domain). Shown to the merchant on the admin page.
std::string storefront_key(std::string_view app_secret, std::string_view shop_domain);

// The text the app proxy signs, from decoded query parameters in arrival order (see (a)).
std::string app_proxy_message(const std::vector<std::pair<std::string, std::string>>& params);
// Lower-case hex HMAC-SHA256 of app_proxy_message(params) under `secret`.
std::string app_proxy_signature(const std::vector<std::pair<std::string, std::string>>& params,
                                std::string_view secret);

}  // namespace afterglow::email
