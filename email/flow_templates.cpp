#include "email/flow_templates.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int kHour = 60;
constexpr int kDay = 24 * kHour;

// Shows the recommended products (email/recommendations.h) as cards after the text.
constexpr const char* kItems = "{{recommendations}}";

json delay(int minutes) { return {{"type", "delay"}, {"duration_minutes", minutes}}; }

json email(const char* id, const char* subject, const char* preview, std::string body) {
  return {{"id", id}, {"type", "send_email"}, {"subject", subject}, {"preview_text", preview},
          {"body", std::move(body)}};
}

json exits(std::initializer_list<const char*> names) {
  json j = json::array();
  for (const char* n : names) j.push_back(n);
  return j;
}

json post_purchase() {
  std::string first = std::string(
      "<p>Hi {{first_name|there}},</p><p>Your order {{order_name}} is on its way. People who "
      "bought it often pair it with these:</p>") + kItems;
  std::string reminder = std::string(
      "<p>Hi {{first_name|there}},</p><p>How are you getting on with your order? If anything is "
      "not quite right, just reply to this email and we will help.</p><p>And if you want to get "
      "more out of it, these go well with it:</p>") + kItems;
  return {{"name", "Post-purchase cross-sell"},
          {"trigger", "order_fulfilled"},
          {"steps",
           {delay(48 * kHour),
            email("recommend", "Something to go with your order",
                  "Two picks that complete your purchase", first),
            // The delay comes before the split: a split is decided when it is reached, so a
            // click during these four days counts.
            delay(4 * kDay),
            {{"id", "no-click"},
             {"type", "conditional_split"},
             {"condition", {{"field", "clicked_message"}, {"op", "is_false"}}},
             {"yes",
              {email("support", "How is your order working out?",
                     "We are here if you need anything", reminder)}},
             {"no", json::array()}}}},
          {"exit_conditions",
           exits({"ordered_since_start", "unsubscribed", "refunded_or_cancelled",
                  "accepted_recommended_item"})},
          {"reentry_cooldown_hours", 30 * 24}};
}

json cart_upsell() {
  std::string upgrade = std::string(
      "<p>Hi {{first_name|there}},</p><p>You left something in your cart. Before you decide, "
      "have a look at the upgraded version:</p>") + kItems +
      "<p><a href=\"{{recovery_url}}\">Return to your cart</a></p>";
  std::string incentive =
      "<p>Hi {{first_name|there}},</p><p>Your cart is still waiting, and here is "
      "{{incentive_text}}: use code <strong>{{incentive_code}}</strong> at checkout.</p>"
      "<p><a href=\"{{recovery_url}}\">Complete your order</a></p>";
  return {{"name", "Cart upsell"},
          {"trigger", "checkout_abandoned"},
          {"trigger_filters", {{{"field", "order_value_minor"}, {"op", "gte"}, {"value", 5000}}}},
          {"steps",
           {delay(1 * kHour),
            email("upgrade", "Still thinking it over?", "The upgraded version, side by side",
                  upgrade),
            delay(24 * kHour),
            email("incentive", "A little something to help you decide", "{{incentive_text}}",
                  incentive)}},
          {"exit_conditions", exits({"ordered_since_start", "unsubscribed"})},
          {"reentry_cooldown_hours", 7 * 24}};
}

json browse_upsell() {
  std::string compare = std::string(
      "<p>Hi {{first_name|there}},</p><p>Still looking? Here is how it compares with our "
      "premium pick:</p>") + kItems;
  return {{"name", "Browse upsell"},
          {"trigger", "product_viewed"},
          {"steps",
           {delay(18 * kHour),
            email("compare", "Compare before you choose", "Side by side with the premium version",
                  compare)}},
          {"exit_conditions", exits({"ordered_since_start", "unsubscribed"})},
          {"reentry_cooldown_hours", 7 * 24}};
}

json four_step() {
  std::string offer = std::string(
      "<p>Hi {{first_name|there}},</p><p>Thanks again for your order {{order_name}}. "
      "We picked these for you:</p>") + kItems;
  std::string discount =
      "<p>Hi {{first_name|there}},</p><p>As a returning customer you get {{incentive_text}}: "
      "use <strong>{{incentive_code}}</strong> at checkout.</p>";
  std::string proof = std::string(
      "<p>Hi {{first_name|there}},</p><p>These are what customers like you bought next:</p>") +
      kItems;
  std::string nudge = std::string(
      "<p>Hi {{first_name|there}},</p><p>A last reminder before we stop writing about "
      "these:</p>") + kItems;
  return {{"name", "Four-step follow-up"},
          {"trigger", "order_paid"},
          {"steps",
           {delay(2 * kDay), email("offer", "Picked for you", "Goes well with your order", offer),
            delay(3 * kDay),
            email("discount", "A thank-you discount", "{{incentive_text}}", discount),
            delay(3 * kDay), email("proof", "What customers bought next", "Popular picks", proof),
            delay(2 * kDay), email("nudge", "Last reminder", "Before we stop writing", nudge)}},
          {"exit_conditions",
           exits({"ordered_since_start", "clicked", "unsubscribed", "refunded_or_cancelled"})},
          {"reentry_cooldown_hours", 30 * 24}};
}

FlowTemplate make(const char* key, const char* title, const char* description, const json& j) {
  auto flow = flow_from_json(j);
  // A template is code: one that does not parse is a bug caught by the first test run.
  if (!flow) throw std::logic_error(std::string("flow template ") + key + ": " + flow.error().message);
  return FlowTemplate{key, title, description, std::move(*flow)};
}

}  // namespace

const std::vector<FlowTemplate>& flow_templates() {
  static const std::vector<FlowTemplate> all = {
      make("post_purchase_cross_sell", "Post-purchase cross-sell",
           "Two days after an order ships, recommend two items that complete it; if there is no "
           "click, follow up four days later offering help.",
           post_purchase()),
      make("cart_upsell", "Cart upsell",
           "An hour after a checkout of 50.00 or more is abandoned, show the upgraded or bundled "
           "version; a day later offer your incentive, if you configured one.",
           cart_upsell()),
      make("browse_upsell", "Browse upsell",
           "18 hours after someone views a product without starting a checkout, compare it with "
           "the premium version.",
           browse_upsell()),
      make("four_step_sequence", "Four-step follow-up",
           "After an order: an offer at 2 days, a discount at 5, social proof at 8 and a last "
           "nudge at 10. Stops at the first click or order.",
           four_step()),
  };
  return all;
}

const FlowTemplate* find_flow_template(std::string_view key) {
  for (const FlowTemplate& t : flow_templates()) {
    if (t.key == key) return &t;
  }
  return nullptr;
}

}  // namespace afterglow::email
