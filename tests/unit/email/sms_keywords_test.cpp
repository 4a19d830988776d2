// email/sms_keywords: CTIA keywords, plain-language revocations (FCC 2024 "any reasonable means")
// and the messages that merely mention "stop" without asking to opt out.
#include "email/sms_keywords.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace afterglow::email {
namespace {

void expect(const std::vector<std::string>& bodies, SmsKeyword want) {
  for (const auto& body : bodies) {
    INFO("body: \"" << body << "\"");
    CHECK(sms_keyword_name(classify_inbound_sms(body)) == std::string(sms_keyword_name(want)));
  }
}

TEST_CASE("carrier opt-out keywords in any case and with punctuation opt out", "[sms]") {
  expect({"STOP",    "stop",     "Stop",           " stop ",    "STOP.",       "Stop!",
          "stop!!!", "\"STOP\"", "STOP 🛑",      "STOPALL",   "UNSUBSCRIBE", "Unsubscribe.",
          "CANCEL",  "END",      "QUIT",           "REVOKE",    "OPTOUT",      "OPT-OUT",
          "opt out", "Opt Out!", "stop stop STOP", "\tSTOP\r\n"},
         SmsKeyword::kOptOut);
}

TEST_CASE("a keyword with courtesy words still opts out", "[sms]") {
  expect({"STOP please", "Please stop", "please, STOP.", "stop it", "Stop now!", "stop all",
          "unsubscribe me", "Cancel please", "STOP thanks", "remove me", "Remove", "no more",
          "No more texts", "stop texts please", "Quit it", "stop immediately"},
         SmsKeyword::kOptOut);
}

TEST_CASE("plain-language revocations opt out", "[sms]") {
  expect({"stop texting me",
          "Please stop texting me.",
          "STOP SENDING ME THESE",
          "Stop sending me messages",
          "can you stop messaging me",
          "why can't you stop texting me",
          "quit texting me",
          "no more messages please",
          "I don't want these texts anymore",
          "I do not want any more messages",
          "remove me from your list",
          "remove my number please",
          "take me off this list",
          "please unsubscribe me from this",
          "don't text me",
          "Don't text me again",
          "do not message me",
          "never text me again",
          "leave me alone",
          "I want to opt out",
          "How do I unsubscribe?",
          "opt me out",
          "Who is this? Stop texting me.",
          "No, stop texting me",
          "I revoke my consent",
          "STOP. I never signed up for this",
          "Stop! Who gave you my number?"},
         SmsKeyword::kOptOut);
}

TEST_CASE("spanish and french opt-outs opt out", "[sms]") {
  expect({"no más", "No mas", "NO MÁS", "ya no más", "no más mensajes por favor", "para", "PARA",
          "alto", "¡Alto!", "cancelar", "Baja", "no me envíen más mensajes", "dejen de escribirme",
          "quiero darme de baja", "no quiero mensajes", "ARRÊT", "arret"},
         SmsKeyword::kOptOut);
}

TEST_CASE("a message merely containing stop is not an opt-out", "[sms]") {
  expect({"don't stop the deals!",
          "Please don't stop texting me",
          "Never stop sending these",
          "I don't want you to stop sending deals",
          "cancel my order",
          "Can I cancel my order?",
          "When does the sale end?",
          "the end",
          "I can't stop buying from you lol",
          "stop by the store",
          "What time do you stop shipping today?",
          "I quit my job",
          "Is there a bus stop near the store?",
          "Para cuando llega mi pedido?",
          "no more than two a week is fine",
          "remove the blue one from my cart",
          "",
          "   ",
          "?!",
          "👍",
          "ok",
          "thanks"},
         SmsKeyword::kNone);
}

TEST_CASE("opt-in keywords opt in", "[sms]") {
  expect({"START", "start", "Start.", "UNSTOP", "YES", "yes!", "Yes please", "  yes  "},
         SmsKeyword::kOptIn);
  // Not a whole-message keyword: no opt-in from a longer sentence.
  expect({"yes I got the package", "start my order", "will the sale start soon?"},
         SmsKeyword::kNone);
}

TEST_CASE("help keywords ask for help", "[sms]") {
  expect({"HELP", "help", "Help!", "INFO", "info?", "help me", "help please", "AYUDA"},
         SmsKeyword::kHelp);
  expect({"I need help with my order", "more info on the blue shirt?"}, SmsKeyword::kNone);
}

TEST_CASE("an opt-out wins over other words in the same text", "[sms]") {
  expect({"yes stop texting me", "help, stop texting me", "START? no. STOP sending these"},
         SmsKeyword::kOptOut);
}

}  // namespace
}  // namespace afterglow::email
