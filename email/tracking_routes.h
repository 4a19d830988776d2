// The public routes behind every tracking and unsubscribe link (spec/messaging.md §1.2, §4).
// The token (email/tracking_token.h) is the only credential: no cookies, no sessions.
//
//   GET  /t/c/TOKEN        302 to the link the token names, as recorded in messages.links at
//                          render time (http/https only; never a URL from the request), and a
//                          message_events 'click'. A bad token, unknown message, index out of
//                          range or a stored link that is not http(s): 404 page, no redirect.
//   GET  /t/o/TOKEN[.gif]  the 43-byte transparent GIF, always (a bad token too: nothing is
//                          recorded then), and a message_events 'open'.
//   GET  /u/TOKEN          the preference centre: the shop, the masked address, an Unsubscribe
//                          button, per-channel choices and the email frequency. Changes nothing:
//                          link scanners fetch GETs.
//   POST /u/TOKEN          `List-Unsubscribe=One-Click` (RFC 8058; urlencoded or multipart):
//                          unsubscribes at once, 200 text/plain "Unsubscribed", never a
//                          redirect. `action=unsubscribe|preferences|resubscribe` (the page's
//                          forms): 200 with the page. Body over 4 KiB: 413; anything else: 400
//                          (JSON error, http_reply.h); bad token: 404. Repeats change nothing.
//
// Every answer carries Cache-Control: no-store. Pages are self-contained HTML (inline CSS, no
// JavaScript, no outside resources) under a Content-Security-Policy that allows nothing else.
//
// Machine traffic (flagged message_events.machine = 1, never used for exits or attribution):
// - clicks: a HEAD request, no User-Agent, a known scanner or bot User-Agent (Safe Links,
//   Mimecast, Proofpoint, Barracuda, HTTP libraries, "bot"/"crawler"/"spider"...), or arriving
//   within 10 s of the send (security gateways follow links as the mail arrives);
// - opens: Apple Mail Privacy Protection (an Apple network address: 17.0.0.0/8 and Apple's IPv6
//   allocations, or the bare "Mozilla/5.0" user agent its proxy sends), Google's image proxy
//   within 60 s of the send (a prefetch on arrival; later fetches are Gmail users opening the
//   mail), a scanner user agent, or within 2 s of the send.
// The send time is messages.sent_at_ms (created_at_ms while it is still unset).
//
// The routes write message_events and, through email/consent.h, consents and suppressions.
// At most 100 clicks and 20 opens are recorded per message, so a leaked token cannot fill the
// table. A database failure answers 503 (the click page says "try again"); the open pixel is
// served regardless.
//
// Thread-safe: the handlers keep no state of their own; Db and Clock are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "plugin/core/clock.h"
#include "plugin/core/db.h"

namespace httplib {
class Server;
}

namespace afterglow::email {

// What the routes need. The references must outlive every server the routes are mounted on.
struct TrackingServices {
  Db& db;
  const Clock& clock;
  // tracking_key() of APP_API_SECRET, then of APP_API_SECRET_PREVIOUS when set.
  std::vector<std::string> keys;
  // APP_URL, the public origin: the pages' forms post to {app_url}/u/TOKEN (a relative URL
  // when empty).
  std::string app_url;
  // True only where a trusted proxy sets X-Forwarded-For (the plain-HTTP listener behind the
  // TLS proxy): the open pixel then reads the client address from its last entry. A client
  // that forges the header can only misclassify its own open.
  bool trust_forwarded_for = false;
};

// Registers the routes on `server` (call once per listener).
void mount_tracking_routes(httplib::Server& server, TrackingServices& services);

}  // namespace afterglow::email
