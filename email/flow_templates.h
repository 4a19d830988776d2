// The seed flows, shipped as ready templates a merchant switches on (GET
// /api/admin/flow-templates lists them; POST /api/admin/flow-templates/{key} makes a flow of
// one, live or as a draft to edit first):
//
//   post_purchase_cross_sell  fulfilled → 48 h → email with two complements → if no click,
//                             4 days → a reminder with a support angle
//   cart_upsell               checkout abandoned at ≥ 50.00 → 1 h → the upgraded or bundled
//                             version → 24 h → the shop's incentive (skipped when it has none)
//   browse_upsell             viewed a product, no cart → 18 h → side by side with the premium
//                             version
//   four_step_sequence        paid → 2 d offer → 3 d incentive → 3 d social proof → 2 d nudge
//
// Bodies are Mustache (email/template.h) and use only the variables the composer provides;
// every flow exits when the person orders or unsubscribes. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "email/flow_model.h"

namespace afterglow::email {

struct FlowTemplate {
  std::string key;          // stable: post_purchase_cross_sell, …
  std::string title;        // for the merchant page
  std::string description;  // one sentence on what it does and when
  Flow flow;                // status draft; id 0
};

// Every template, in the order above. Each is a valid flow (flow_from_json accepts it).
const std::vector<FlowTemplate>& flow_templates();

// The template with that key, or nullptr.
const FlowTemplate* find_flow_template(std::string_view key);

}  // namespace afterglow::email
