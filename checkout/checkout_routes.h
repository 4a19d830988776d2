// The /checkout HTTP surface the checkout extensions call (manifests/README.md "The extensions and
// the backend endpoints they call" is the contract, field for field):
//
//   POST /checkout/offers          {surface:"post_purchase", referenceId, token}
//                                  {surface:"thank_you", orderId} + Authorization: Bearer <session>
//                                  → {"offers": [offer, …]} best first; [] when nothing is shown
//   POST /checkout/sign-changeset  {surface, referenceId, token, offerId, offerToken}
//                                  → {"token": "<changeset JWT>"} (spec/shopify.md §3.3)
//   POST /checkout/accept          {surface:"thank_you", orderId, offerId, offerToken} + Bearer
//                                  → {"status", "message"?, "clientSecret"?, "charged"?,
//                                     "replayed"?, "next"?}
//   POST /checkout/decline         either surface's proof + {offerId, offerToken}
//                                  → {"status":"declined", "next"?}
//   OPTIONS /checkout/…            204 (CORS preflight)
//
// Who is calling: checkout_auth.h (Shopify's post-purchase token in the body, or the thank-you
// session token's dest); the shop never comes from anything else. What an offer is: the signed
// offer token (offer_token.h) minted here with each shown offer; accept, decline and
// sign-changeset act only on what a token names, and only for the shop, surface and order that
// proved themselves.
//
// Every answer, errors included, carries CORS headers (the extensions run in Shopify's sandboxed
// worker, not on our origin) and is JSON; errors are {"error": {"code", "message"}} with the
// status of http_reply.h, and these codes of our own: offer_expired (403), offer_already_answered
// (403), offer_unavailable (410, the offer was deleted or changed since it was shown).
//
// POST /checkout/offers reads the database and works in memory only: it never calls Stripe or the
// platform (its p99 budget is 5 ms). Decisions, impressions and holdouts are handed to the
// EventSink (written asynchronously). Accept talks to Stripe through OneClick.
//
// Thread-safe: handlers keep no state of their own; the services are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "checkout/offer_cache.h"
#include "checkout/offer_events.h"
#include "checkout/one_click.h"
#include "plugin/core/clock.h"
#include "plugin/core/db.h"
#include "plugin/core/metrics.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace afterglow::checkout {

// What the routes need. The references must outlive every server the routes are mounted on.
struct CheckoutServices {
  std::string api_key;                   // APP_API_KEY: aud of session tokens, iss of changesets
  std::vector<std::string> app_secrets;  // APP_API_SECRET, then APP_API_SECRET_PREVIOUS if set
  std::string app_url;                   // APP_URL
  Db& db;
  const Clock& clock;
  OfferCache& offers;
  EventSink& events;
  OneClick& one_click;
  Metrics* metrics = nullptr;  // optional: decision counters
};

// Registers the routes on `server` (call once per listener).
void mount_checkout_routes(httplib::Server& server, CheckoutServices& services);

// The CORS headers every /checkout answer carries. The server also sets them on answers it gives
// before routing (413, 411, …) for /checkout paths.
void set_cors_headers(httplib::Response& res);
bool is_checkout_path(std::string_view path);

}  // namespace afterglow::checkout
