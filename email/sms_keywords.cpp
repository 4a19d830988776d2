#include "email/sms_keywords.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace afterglow::email {
namespace {

using Words = std::vector<std::string>;

// ---- Normalisation -------------------------------------------------------------------------

// The ASCII letter a Latin-1 letter (second byte of a UTF-8 "C3 xx" pair) folds to, or 0.
char fold_c3(unsigned char b) {
  if ((b >= 0x80 && b <= 0x85) || (b >= 0xA0 && b <= 0xA5)) return 'a';
  if (b == 0x87 || b == 0xA7) return 'c';
  if ((b >= 0x88 && b <= 0x8B) || (b >= 0xA8 && b <= 0xAB)) return 'e';
  if ((b >= 0x8C && b <= 0x8F) || (b >= 0xAC && b <= 0xAF)) return 'i';
  if (b == 0x91 || b == 0xB1) return 'n';
  if ((b >= 0x92 && b <= 0x96) || (b >= 0xB2 && b <= 0xB6)) return 'o';
  if ((b >= 0x99 && b <= 0x9C) || (b >= 0xB9 && b <= 0xBC)) return 'u';
  return 0;
}

// Clauses of lower-case ASCII words (see the header for the rules).
std::vector<Words> normalise(std::string_view s) {
  std::vector<Words> clauses(1);
  std::string word;
  auto end_word = [&] {
    if (!word.empty()) clauses.back().push_back(std::move(word));
    word.clear();
  };
  auto end_clause = [&] {
    end_word();
    if (!clauses.back().empty()) clauses.emplace_back();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') {
        word.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        word.push_back(static_cast<char>(c));
      } else if (c == '\'' || c == '`') {
        // "don't" -> "dont": an apostrophe joins.
      } else if (c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':' ||
                 c == '\n' || c == '\r') {
        end_clause();
      } else {
        end_word();
      }
      continue;
    }
    // A multi-byte UTF-8 sequence: its length from the lead byte (a stray continuation byte
    // counts as one).
    size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
    len = std::min(len, s.size() - i);
    std::string_view seq = s.substr(i, len);
    i += len - 1;
    if (len == 2 && c == 0xC3) {
      if (char f = fold_c3(static_cast<unsigned char>(seq[1]))) {
        word.push_back(f);
        continue;
      }
    }
    if (seq == "\xE2\x80\x98" || seq == "\xE2\x80\x99") continue;  // curly apostrophes join
    if (seq == "\xE2\x80\xA6") {                                   // "…" ends a clause
      end_clause();
      continue;
    }
    end_word();  // anything else (emoji, ¡, ¿, other scripts) separates words
  }
  end_word();
  if (clauses.back().empty()) clauses.pop_back();
  return clauses;
}

// ---- Word lists ----------------------------------------------------------------------------

const std::set<std::string, std::less<>> kOptOutWords{
    "stop",   "stopall", "unsubscribe", "unsub", "cancel",   "end",  "quit",  "revoke", "optout",
    "remove", "para",    "parar",       "alto",  "cancelar", "baja", "arret", "arrete"};
const std::set<std::string, std::less<>> kOptInWords{"start", "unstop", "yes"};
const std::set<std::string, std::less<>> kHelpWords{"help", "info", "ayuda"};
// Two-word whole-message opt-outs (rule 1).
const std::vector<Words> kOptOutPairs{{"opt", "out"}, {"no", "more"}, {"no", "mas"}};

// Courtesy and filler words that do not change what a short reply asks for.
const std::set<std::string, std::less<>> kFiller{
    "please", "pls",     "plz",         "pleez", "now",     "thanks",   "thank", "thankyou", "thx",
    "ty",     "tnx",     "you",         "u",     "ok",      "okay",     "k",     "me",       "all",
    "just",   "asap",    "immediately", "hi",    "hello",   "hey",      "it",    "this",     "that",
    "these",  "those",   "text",        "texts", "message", "messages", "msg",   "msgs",     "sms",
    "again",  "anymore", "por",         "favor", "ya",      "gracias",  "merci", "svp"};

// Words that negate an opt-out phrase that follows them in the same clause.
const std::set<std::string, std::less<>> kNegators{"dont",  "not",    "never",    "wont",
                                                   "didnt", "doesnt", "shouldnt", "wouldnt"};
// Words allowed between a negator and the phrase: "don't want you to stop texting".
const std::set<std::string, std::less<>> kNegationBridge{"want",   "you", "u",  "to",   "ever",
                                                         "please", "pls", "ya", "just", "really"};

// ---- Phrase patterns (rule 2) --------------------------------------------------------------
//
// A pattern is space-separated elements: "a|b" one of these words, "@msg" a word about texts
// (noun or verb: "texts", "sending"), "@noun" a noun for texts only, "~N" up to N arbitrary
// words. "@noun" after a gap keeps "I don't want you to stop sending" from reading as "don't
// want … sending". A leading "=" marks a phrase that carries its own negation
// ("dont text me"), which is therefore not checked for a preceding negator.

const std::set<std::string, std::less<>> kMessageNouns{
    "text",     "texts", "txt",  "txts", "texto", "textos",  "message",
    "messages", "msg",   "msgs", "sms",  "spam",  "mensaje", "mensajes"};
const std::set<std::string, std::less<>> kMessageWords = [] {
  std::set<std::string, std::less<>> words = kMessageNouns;
  words.insert({"texting", "txting", "messaging", "sending", "contacting", "spamming"});
  return words;
}();

const char* const kOptOutPhrases[] = {
    "stop|quit|cease ~2 @msg",
    "unsubscribe|unsub|optout|stopall|revoke|desabonner|desinscrire|desuscribir|desuscribirme",
    "opt out",
    "opt me|us out",
    "remove|delete|erase me|us",
    "remove|delete|erase|lose my|our number|phone|cell",
    "take me|us off",
    "take my|our number|phone|cell off",
    "leave me|us alone",
    "= no more ~2 @noun",
    "= dont|never text|txt|message|msg|contact|sms|spam|send",
    "= do not text|txt|message|msg|contact|sms|spam|send",
    "= dont|never want ~3 @noun",
    "= do not want ~3 @noun",
    "= no longer want ~3 @noun",
    "= no mas @noun",
    "= no quiero ~2 @noun",
    "= no me envien|envies|manden|mandes|escriban|escribas|contacten|contactes",
    "= deja|dejen|dejar de enviar|enviarme|mandar|mandarme|escribir|escribirme|molestar|molestarme",
    "= darme|dame|denme de baja",
};

struct Element {
  enum Kind { kWords, kMessageWord, kMessageNoun, kGap } kind = kWords;
  std::set<std::string, std::less<>> words;
  int gap = 0;
};

struct Pattern {
  bool self_negating = false;
  std::vector<Element> elements;
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) next = s.size();
    if (next > pos) out.emplace_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

Pattern parse_pattern(std::string_view text) {
  Pattern p;
  for (const auto& part : split(text, ' ')) {
    if (part == "=") {
      p.self_negating = true;
    } else if (part == "@msg") {
      p.elements.push_back({Element::kMessageWord, {}, 0});
    } else if (part == "@noun") {
      p.elements.push_back({Element::kMessageNoun, {}, 0});
    } else if (part[0] == '~') {
      p.elements.push_back({Element::kGap, {}, std::stoi(part.substr(1))});
    } else {
      Element e;
      for (auto& w : split(part, '|')) e.words.insert(std::move(w));
      p.elements.push_back(std::move(e));
    }
  }
  return p;
}

const std::vector<Pattern>& opt_out_patterns() {
  static const std::vector<Pattern> patterns = [] {
    std::vector<Pattern> out;
    for (const char* p : kOptOutPhrases) out.push_back(parse_pattern(p));
    return out;
  }();
  return patterns;
}

// True when elements[e..] match words[w..] (the phrase may end anywhere after that).
bool match_from(const std::vector<Element>& elements, size_t e, const Words& words, size_t w) {
  if (e == elements.size()) return true;
  const Element& el = elements[e];
  if (el.kind == Element::kGap) {
    for (int skip = 0; skip <= el.gap && w + skip <= words.size(); ++skip) {
      if (match_from(elements, e + 1, words, w + skip)) return true;
    }
    return false;
  }
  if (w >= words.size()) return false;
  const auto& set = el.kind == Element::kMessageWord   ? kMessageWords
                    : el.kind == Element::kMessageNoun ? kMessageNouns
                                                       : el.words;
  return set.contains(words[w]) && match_from(elements, e + 1, words, w + 1);
}

bool negated_before(const Words& words, size_t start) {
  size_t i = start;
  int bridged = 0;
  while (i > 0 && bridged < 4 && kNegationBridge.contains(words[i - 1])) {
    --i;
    ++bridged;
  }
  // "do not" / "does not" end in "not", which the set holds.
  return i > 0 && kNegators.contains(words[i - 1]);
}

bool has_opt_out_phrase(const Words& clause) {
  for (const auto& pattern : opt_out_patterns()) {
    for (size_t start = 0; start < clause.size(); ++start) {
      if (!match_from(pattern.elements, 0, clause, start)) continue;
      if (pattern.self_negating || !negated_before(clause, start)) return true;
    }
  }
  return false;
}

// ---- Rules 1 and 3 -------------------------------------------------------------------------

Words without_filler(const Words& words) {
  Words out;
  for (const auto& w : words) {
    if (!kFiller.contains(w)) out.push_back(w);
  }
  return out;
}

bool all_in(const Words& words, const std::set<std::string, std::less<>>& set) {
  return !words.empty() &&
         std::all_of(words.begin(), words.end(), [&](const auto& w) { return set.contains(w); });
}

bool is_opt_out_reply(const Words& words) {
  Words core = without_filler(words);
  if (all_in(core, kOptOutWords)) return true;
  return std::find(kOptOutPairs.begin(), kOptOutPairs.end(), core) != kOptOutPairs.end();
}

}  // namespace

SmsKeyword classify_inbound_sms(std::string_view body) {
  std::vector<Words> clauses = normalise(body);
  if (clauses.empty()) return SmsKeyword::kNone;

  // Rule 1: the whole message is a keyword.
  Words all;
  for (const auto& c : clauses) all.insert(all.end(), c.begin(), c.end());
  if (is_opt_out_reply(all)) return SmsKeyword::kOptOut;
  Words core = without_filler(all);
  if (all_in(core, kOptInWords)) return SmsKeyword::kOptIn;
  if (all_in(core, kHelpWords)) return SmsKeyword::kHelp;

  // Rule 2: an opt-out phrase in some clause.
  for (const auto& c : clauses) {
    if (has_opt_out_phrase(c)) return SmsKeyword::kOptOut;
  }
  // Rule 3: the first clause is an opt-out keyword ("STOP. who is this?").
  if (clauses.size() > 1 && is_opt_out_reply(clauses.front())) return SmsKeyword::kOptOut;
  return SmsKeyword::kNone;
}

const char* sms_keyword_name(SmsKeyword keyword) {
  switch (keyword) {
    case SmsKeyword::kNone:
      return "none";
    case SmsKeyword::kOptOut:
      return "opt_out";
    case SmsKeyword::kOptIn:
      return "opt_in";
    case SmsKeyword::kHelp:
      return "help";
  }
  return "none";
}

}  // namespace afterglow::email
