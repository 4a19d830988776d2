// Who is calling /checkout/…: the two proofs of origin the platform gives a checkout extension
// (spec/shopify.md §3.2, §4). Both are HS256 JWTs signed with the app secret (the current one,
// then APP_API_SECRET_PREVIOUS during a rotation); any other algorithm is refused before
// signature work (plugin/core/jwt.h).
//
//   Post-purchase page: Shopify's `inputData.token`, sent in the body. Claims: iss "shopify",
//   sub = the referenceId, input_data = the extension's inputData. The shop is
//   input_data.shop.domain. The token has no exp, aud or jti, so it can be replayed for as long
//   as the secret lives: nothing here limits that. What bounds a replay is our own state: each
//   offer token expires (offer_window_minutes after the purchase) and is spent by its first
//   answer (offer_responses, one_click.h), and the changeset Shopify applies is single use on
//   its side (changeset_already_applied). A replayed input token can therefore only ask again
//   for offers of an order it already belongs to.
//
//   Thank-you block: `Authorization: Bearer <session token>`. Claims: aud = APP_API_KEY,
//   exp (required; the platform issues 5-minute tokens), nbf (required), dest = the shop's bare
//   host ("x.myshopify.com", no scheme: an admin session token, whose dest is a URL, is not
//   accepted here), optional sub = "gid://shopify/Customer/<id>". The shop comes from dest alone,
//   never from the body.
//
// Every failure is kUnauthenticated (401) with a message naming the check that failed; the
// message never contains the token or a secret. Whether the shop is installed is the caller's
// question (it needs the database). Thread-safe: no mutable state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/error.h"

namespace afterglow::checkout {

// Clock skew tolerated on exp and nbf (the platform's own library uses 10 s).
inline constexpr std::chrono::seconds kCheckoutTokenLeeway{10};

struct PostPurchaseCaller {
  std::string shop_domain;   // lower case, {name}.myshopify.com
  std::string reference_id;  // == the token's sub == input_data.initialPurchase.referenceId
  // The verified input_data claim (a JSON object): what the purchase context is built from.
  std::shared_ptr<const nlohmann::json> input_data;
};

struct ThankYouCaller {
  std::string shop_domain;  // from dest
  std::optional<int64_t> customer_id;  // from sub, when the buyer is logged in
};

class CheckoutAuth {
 public:
  // `secrets`: the app secret first, then the previous one; empty strings are skipped.
  // `clock` must outlive this object.
  CheckoutAuth(std::string api_key, std::vector<std::string> secrets, const Clock& clock);

  // Verifies Shopify's post-purchase input token for the request's `reference_id`.
  Result<PostPurchaseCaller> verify_post_purchase(std::string_view token,
                                                  std::string_view reference_id) const;

  // Verifies an Authorization header value ("Bearer <session token>").
  Result<ThankYouCaller> verify_thank_you(std::string_view authorization) const;

  const std::vector<std::string>& secrets() const { return secrets_; }

 private:
  std::string api_key_;
  std::vector<std::string> secrets_;
  const Clock& clock_;
};

// True for "{name}.myshopify.com" with a lower-case name of letters, digits and hyphens.
bool is_myshopify_domain(std::string_view host);

}  // namespace afterglow::checkout
