// X-Twilio-Signature: how Twilio signs the webhooks it sends us (inbound messages, delivery
// status callbacks), and how we check them (spec/messaging.md §3.1; Twilio's "webhooks security"
// page). Form-bodied webhooks only: Twilio's JSON-bodied webhooks (bodySHA256) are not used by
// Messaging.
//
// The signed text is the full URL Twilio requested (scheme, host, port if any, path, query
// string) followed by every POST parameter as name + value with no separators, parameters sorted
// by name and then by value in byte order (a repeated name contributes each of its values, in
// sorted order, as twilio-python does). The signature is base64(HMAC-SHA1(auth token, text)).
//
// The URL must be the public one Twilio called: behind a TLS-terminating proxy build it from
// configuration (APP_URL + path + query), never from the Host header.
//
// Pure functions; thread-safe; nothing here logs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/core/error.h"

namespace afterglow::email {

// Decoded form parameters in arrival order (the shape oauth::parse_query returns; parse a
// webhook body with it, or use verified_twilio_form below).
using FormParams = std::vector<std::pair<std::string, std::string>>;

// The X-Twilio-Signature value Twilio would send for a form POST of `params` to `url`.
std::string twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params);

// True when `header` is the signature of `params` posted to `url` under `auth_token`, compared in
// constant time. Like Twilio's helper libraries, also accepts a signature made over the URL
// without its port, or with the scheme's default port added (Twilio is inconsistent about
// that); nothing else about the URL may differ. False for an empty token or header.
bool verify_twilio_signature(std::string_view auth_token, std::string_view url,
                             const FormParams& params, std::string_view header);

// Parses an application/x-www-form-urlencoded `body` (oauth::parse_query: '+' is a space, %XX
// decoded) and verifies `header` over it. Returns the parameters in arrival order;
// kInvalidArgument for a malformed body, kUnauthenticated when the signature is missing or wrong.
Result<FormParams> verified_twilio_form(std::string_view auth_token, std::string_view url,
                                        std::string_view body, std::string_view header);

}  // namespace afterglow::email
