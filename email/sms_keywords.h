// What an inbound text asks for: opt-out, opt-in, help, or nothing we act on
// (spec/messaging.md §2.3, §2.4). The inbound webhook records an opt-out in our own consent store
// even when Twilio's keyword handling already blocked the number, because Twilio's list is per
// sender and does not catch free text such as "please stop".
//
// The rule, in order (matching works on normalised text: ASCII letters lower-cased, the Spanish
// and French accents folded (á→a, ñ→n, è→e…), apostrophes and hyphens dropped inside words
// ("don't"→"dont", "opt-out"→"optout"), every other character a word break, and . , ! ? ; : and
// line breaks ending a clause):
//   1. The whole message, minus courtesy words (please, thanks, now, me, all, ya, por favor…),
//      is one keyword, or the same keyword repeated:
//        opt-out  STOP STOPALL UNSUBSCRIBE UNSUB CANCEL END QUIT REVOKE OPTOUT "OPT OUT"
//                 ("OPT-OUT"), REMOVE, "NO MORE", Spanish PARA PARAR ALTO CANCELAR BAJA "NO MAS",
//                 French ARRET ARRETE
//        opt-in   START UNSTOP YES
//        help     HELP INFO, Spanish AYUDA
//      e.g. "STOP", "Stop.", " stop please ", "STOP STOP", "Opt-Out!", "help me", "YES!".
//   2. A clause contains an opt-out phrase a reasonable person reads as revocation (FCC 2024
//      order): STOP/QUIT/CEASE followed within two words by a word about texts ("stop texting",
//      "stop sending", "stop these messages"), UNSUBSCRIBE/OPTOUT/REVOKE/"opt out" anywhere,
//      "no more texts", "remove me", "remove my number", "take me off", "opt me out", "leave me
//      alone", "don't text me", "do not message me", "I don't want these texts", Spanish
//      "no más mensajes", "no me envíen", "dejen de escribirme", "darme de baja" (full list in
//      sms_keywords.cpp) — unless a negator (don't, not, never, won't…) comes right before the
//      phrase in the same clause, optionally bridged by "want you to" and the like ("please
//      don't stop texting me", "I don't want you to stop sending"). "Can't" is not a negator:
//      "why can't you stop texting me" is an opt-out.
//   3. The first clause alone is an opt-out keyword after courtesy words ("STOP. Who is this?").
// Anything else is kNone: a message that merely contains "stop" ("don't stop the deals!",
// "cancel my order", "the end of the sale?") is not an opt-out. The lists lean towards
// recognising revocation (a missed opt-out is a TCPA violation; a false one loses a subscriber),
// but a bare keyword inside a longer sentence is not enough.
//
// Pure function; thread-safe.
#pragma once

#include <string_view>

namespace afterglow::email {

enum class SmsKeyword { kNone, kOptOut, kOptIn, kHelp };

SmsKeyword classify_inbound_sms(std::string_view body);

// "none", "opt_out", "opt_in", "help".
const char* sms_keyword_name(SmsKeyword keyword);

}  // namespace afterglow::email
