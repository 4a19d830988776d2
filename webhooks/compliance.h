// The mandatory privacy topics (spec/shopify.md §2.5). Each is a TopicHandler that runs in the
// dispatcher's write transaction, so its reads and deletions commit together or not at all.
//
// A customer is found by every key the request gives: the platform customer id, the email
// (compared trimmed and lower-cased) and the phone (as sent, and reduced to digits and '+').
// Orders are found by those keys and by the order ids the request lists.
#pragma once

#include "plugin/core/clock.h"
#include "webhooks/dispatcher.h"

namespace afterglow::webhooks {

// customers/data_request: builds a JSON export of what we hold for the customer (customer rows,
// orders with their lines, suppression entries found by hashing the request's and the stored
// email/phone with the shop's salt, how many other stored deliveries name the customer, and the
// request's ids) and stores it in data_exports for the merchant. Idempotent: one export per
// (shop, data_request id); a repeat is ignored. A redacted shop is ignored (nothing is held).
// Errors: kInvalidArgument when the body lacks data_request.id or any customer key.
Result<Outcome> handle_customers_data_request(Tx& tx, const InboxEvent& event, const Clock& clock);

// customers/redact: erases the customer's personal data everywhere we keep it: the customers
// row is deleted; matching orders (and those in orders_to_redact) lose email, phone, customer id
// and checkout/cart tokens; data exports about the customer are deleted; stored deliveries of
// the shop that name the customer, contain the email or phone, or are events of a listed order
// get the body {"redacted":true} and state `redacted` (the dispatcher then skips them). The
// current delivery's body is redacted too; its state is left for the dispatcher to mark
// processed. Suppression rows are salted hashes already and stay, so an opt-out outlives the
// erasure. Errors: kInvalidArgument when the body names no customer key.
Result<Outcome> handle_customers_redact(Tx& tx, const InboxEvent& event, const Clock& clock);

// shop/redact: deletes all of the shop's data (customers, orders and lines, suppressions, data
// exports, its jobs, every stored delivery of the shop but this one, whose body is redacted) and
// leaves the shop row as a tombstone (state `redacted`, tokens NULL, settings "{}") so a late
// event is ignored instead of re-creating the shop. An unknown shop gets a tombstone as well.
// Errors are database errors (retried).
Result<Outcome> handle_shop_redact(Tx& tx, const InboxEvent& event, const Clock& clock);

}  // namespace afterglow::webhooks
