// The flow model: triggers, steps as a validated tree, exits, cooldown; refusals name the field.
#include "email/flow_model.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "plugin/core/json_fields.h"

using namespace afterglow;
using namespace afterglow::email;
using nlohmann::json;

namespace {

json email_step() { return json{{"type", "send_email"}, {"subject", "Hi"}, {"body", "Hello"}}; }

json minimal_flow() {
  return json{{"name", "Thank-you cross-sell"},
              {"trigger", "order_paid"},
              {"steps", {{{"type", "delay"}, {"duration_minutes", 1440}}, email_step()}}};
}

std::string error_of(const json& j) {
  auto r = flow_from_json(j);
  return r ? "" : r.error().message;
}

}  // namespace

TEST_CASE("a minimal flow gets the documented defaults and step ids", "[flows]") {
  auto r = flow_from_json(minimal_flow());
  REQUIRE(r);
  CHECK(r->status == FlowStatus::kDraft);
  CHECK(r->trigger == FlowTrigger::kOrderPaid);
  CHECK(r->reentry_cooldown_hours == 720);
  REQUIRE(r->steps.size() == 2);
  CHECK(r->steps[0].id == "s1");
  CHECK(r->steps[0].delay_minutes == 1440);
  CHECK(r->steps[1].id == "s2");
}

TEST_CASE("a flow with splits, filters and exits survives a JSON round trip", "[flows]") {
  json j = minimal_flow();
  j["status"] = "live";
  j["trigger"] = "checkout_abandoned";
  j["trigger_filters"] = {{{"field", "order_value_minor"}, {"op", "gte"}, {"value", 5000}},
                          {{"field", "country"}, {"op", "in"}, {"value", {"us", "CA"}}},
                          {{"field", "accepts_email_marketing"}, {"op", "is_true"}}};
  j["steps"] = {{{"id", "wait"}, {"type", "delay"}, {"duration_minutes", 60}},
                {{"type", "conditional_split"},
                 {"condition", {{"field", "customer_tags"}, {"op", "contains"}, {"value", "vip"}}},
                 {"yes", {email_step()}},
                 {"no",
                  {{{"type", "random_split"},
                    {"branches",
                     {{{"weight", 50}, {"steps", {email_step()}}},
                      {{"weight", 50}, {"steps", {{{"type", "send_sms"}, {"body", "Hi"}}}}}}}}}}}};
  j["exit_conditions"] = {"ordered_since_start", "clicked", "unsubscribed", "refunded_or_cancelled",
                          "accepted_recommended_item"};
  j["reentry_cooldown_hours"] = 48;
  auto r = flow_from_json(j);
  REQUIRE(r);
  CHECK(r->steps[0].id == "wait");
  CHECK(r->steps[1].id == "s1");
  CHECK(r->steps[1].yes[0].id == "s2");
  CHECK(r->steps[1].no[0].branches[1].steps[0].type == StepType::kSendSms);
  CHECK(r->trigger_filters[1].strings == std::vector<std::string>{"US", "CA"});
  CHECK(r->exit_conditions.size() == 5);

  json out = flow_to_json(*r);
  auto again = flow_from_json(out);
  REQUIRE(again);
  CHECK(flow_to_json(*again) == out);  // ids are kept, so a second save changes nothing
}

TEST_CASE("flow validation errors name the field", "[flows]") {
  json j = minimal_flow();
  j["trigger"] = "order_shipped";
  CHECK(error_of(j).starts_with("flows.trigger must be one of order_paid"));

  j = minimal_flow();
  j["steps"][1].erase("subject");
  CHECK(error_of(j) == "flows.steps[1].subject is required");

  j = minimal_flow();
  j["steps"][0]["duration_minutes"] = 0;
  CHECK(
      error_of(j).starts_with("flows.steps[0].duration_minutes must be an integer between 1 and"));

  j = minimal_flow();
  j["steps"][1] = {{"type", "send_sms"}, {"body", std::string(1601, 'x')}};
  CHECK(error_of(j) == "flows.steps[1].body must be at most 1600 characters");

  j = minimal_flow();
  j["steps"][1] = {{"type", "send_pigeon"}};
  CHECK(error_of(j).starts_with("flows.steps[1].type must be one of delay, send_email"));

  j = minimal_flow();
  j["steps"] = {
      {{"type", "random_split"}, {"branches", {{{"weight", 1}, {"steps", json::array()}}}}}};
  CHECK(error_of(j) == "flows.steps[0].branches must be a list of 2 to 5 branches");

  j = minimal_flow();
  j["steps"] = {{{"type", "conditional_split"},
                 {"condition", {{"field", "order_count"}, {"op", "contains"}, {"value", 1}}}},
                email_step()};
  auto fields = std::vector<FieldError>();
  auto r = flow_from_json(j, &fields);
  REQUIRE_FALSE(r);
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].message ==
        "flows.steps[0].condition.op must be one of eq, neq, gt, gte, lt, lte for order_count");
  CHECK(fields[1].message ==
        "flows.steps[1] cannot follow a split: put it inside the split's branches");

  j = minimal_flow();
  j["trigger_filters"] = {{{"field", "shoe_size"}, {"op", "eq"}, {"value", 9}}};
  CHECK(error_of(j).starts_with("flows.trigger_filters[0].field must be one of order_value_minor"));

  j = minimal_flow();
  j["exit_conditions"] = {"bored"};
  CHECK(error_of(j).starts_with("flows.exit_conditions[0] must be one of ordered_since_start"));

  j = minimal_flow();
  j["steps"][0]["id"] = "s1";
  j["steps"][1]["id"] = "s1";
  CHECK(error_of(j) == "flows.steps[1].id repeats the step id \"s1\"");

  j = minimal_flow();
  j["reentry_cooldown_hours"] = -1;
  CHECK(error_of(j) == "flows.reentry_cooldown_hours must be an integer between 0 and 8760");
}

TEST_CASE("a live flow must send something", "[flows]") {
  json j = minimal_flow();
  j["status"] = "live";
  j["steps"] = {{{"type", "delay"}, {"duration_minutes", 5}}};
  CHECK(error_of(j) ==
        "flows.steps needs at least one send_email or send_sms step for a live flow");
  j["status"] = "draft";
  CHECK(error_of(j).empty());
}

TEST_CASE("splits nest at most five deep", "[flows]") {
  json leaf = json::array({email_step()});
  json steps = leaf;
  for (int i = 0; i < 6; ++i) {
    steps = json::array({{{"type", "conditional_split"},
                          {"condition", {{"field", "clicked_message"}, {"op", "is_true"}}},
                          {"yes", steps},
                          {"no", json::array()}}});
  }
  json j = minimal_flow();
  j["steps"] = steps;
  CHECK(error_of(j).ends_with("nests splits too deeply (at most 5 levels)"));
}
