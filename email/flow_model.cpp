#include "email/flow_model.h"

#include <algorithm>
#include <set>

#include "plugin/core/json_fields.h"

namespace afterglow::email {
namespace {

using nlohmann::json;

constexpr int kMaxSplitDepth = 5;
constexpr size_t kMaxSteps = 100;
constexpr size_t kMaxFilters = 20;
constexpr int64_t kMaxDelayMinutes = 90 * 24 * 60;

enum class ValueKind { kNumber, kIdSet, kTagSet, kCountry, kCurrency, kFlag };

struct FieldInfo {
  PredicateField field;
  std::string_view name;
  ValueKind kind;
};

constexpr FieldInfo kFields[] = {
    {PredicateField::kOrderValueMinor, "order_value_minor", ValueKind::kNumber},
    {PredicateField::kOrderProductIds, "order_product_ids", ValueKind::kIdSet},
    {PredicateField::kOrderCollectionIds, "order_collection_ids", ValueKind::kIdSet},
    {PredicateField::kCountry, "country", ValueKind::kCountry},
    {PredicateField::kCurrency, "currency", ValueKind::kCurrency},
    {PredicateField::kCustomerTags, "customer_tags", ValueKind::kTagSet},
    {PredicateField::kOrderCount, "order_count", ValueKind::kNumber},
    {PredicateField::kTotalSpentMinor, "total_spent_minor", ValueKind::kNumber},
    {PredicateField::kDaysSinceLastOrder, "days_since_last_order", ValueKind::kNumber},
    {PredicateField::kAcceptsEmailMarketing, "accepts_email_marketing", ValueKind::kFlag},
    {PredicateField::kAcceptsSmsMarketing, "accepts_sms_marketing", ValueKind::kFlag},
    {PredicateField::kOpenedMessage, "opened_message", ValueKind::kFlag},
    {PredicateField::kClickedMessage, "clicked_message", ValueKind::kFlag},
    {PredicateField::kOrderedSinceStart, "ordered_since_start", ValueKind::kFlag},
};

constexpr std::pair<PredicateOp, std::string_view> kOps[] = {
    {PredicateOp::kEq, "eq"},
    {PredicateOp::kNeq, "neq"},
    {PredicateOp::kGt, "gt"},
    {PredicateOp::kGte, "gte"},
    {PredicateOp::kLt, "lt"},
    {PredicateOp::kLte, "lte"},
    {PredicateOp::kContains, "contains"},
    {PredicateOp::kNotContains, "not_contains"},
    {PredicateOp::kIn, "in"},
    {PredicateOp::kNotIn, "not_in"},
    {PredicateOp::kIsTrue, "is_true"},
    {PredicateOp::kIsFalse, "is_false"},
};

constexpr std::pair<FlowTrigger, std::string_view> kTriggers[] = {
    {FlowTrigger::kOrderPaid, "order_paid"},
    {FlowTrigger::kOrderFulfilled, "order_fulfilled"},
    {FlowTrigger::kCheckoutAbandoned, "checkout_abandoned"},
    {FlowTrigger::kProductViewed, "product_viewed"},
    {FlowTrigger::kOfferDeclined, "offer_declined"},
};

constexpr std::pair<ExitCondition, std::string_view> kExits[] = {
    {ExitCondition::kOrderedSinceStart, "ordered_since_start"},
    {ExitCondition::kClicked, "clicked"},
    {ExitCondition::kUnsubscribed, "unsubscribed"},
    {ExitCondition::kRefundedOrCancelled, "refunded_or_cancelled"},
    {ExitCondition::kAcceptedRecommendedItem, "accepted_recommended_item"},
};

constexpr std::pair<StepType, std::string_view> kStepTypes[] = {
    {StepType::kDelay, "delay"},
    {StepType::kSendEmail, "send_email"},
    {StepType::kSendSms, "send_sms"},
    {StepType::kConditionalSplit, "conditional_split"},
    {StepType::kRandomSplit, "random_split"},
};

template <class E, size_t N>
std::string_view name_of(const std::pair<E, std::string_view> (&table)[N], E value) {
  for (const auto& [e, n] : table) {
    if (e == value) return n;
  }
  return table[0].second;
}

template <class E, size_t N>
std::optional<E> value_of(const std::pair<E, std::string_view> (&table)[N], std::string_view name) {
  for (const auto& [e, n] : table) {
    if (n == name) return e;
  }
  return std::nullopt;
}

template <class E, size_t N>
std::string names_of(const std::pair<E, std::string_view> (&table)[N]) {
  std::string out;
  for (const auto& [e, n] : table) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

const FieldInfo* field_info(std::string_view name) {
  for (const FieldInfo& f : kFields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FieldInfo& field_info(PredicateField field) {
  for (const FieldInfo& f : kFields) {
    if (f.field == field) return f;
  }
  return kFields[0];
}

std::vector<PredicateOp> ops_for(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNumber:
      return {PredicateOp::kEq,  PredicateOp::kNeq, PredicateOp::kGt,
              PredicateOp::kGte, PredicateOp::kLt,  PredicateOp::kLte};
    case ValueKind::kIdSet:
    case ValueKind::kTagSet:
      return {PredicateOp::kContains, PredicateOp::kNotContains};
    case ValueKind::kCountry:
    case ValueKind::kCurrency:
      return {PredicateOp::kEq, PredicateOp::kNeq, PredicateOp::kIn, PredicateOp::kNotIn};
    case ValueKind::kFlag:
      return {PredicateOp::kIsTrue, PredicateOp::kIsFalse};
  }
  return {};
}

Predicate read_predicate(const json& value, const std::string& path, FieldErrors& errors) {
  Predicate p;
  ObjectReader r(value, path, errors);
  if (!r.valid()) return p;
  std::string field_names;
  for (const FieldInfo& f : kFields) {
    if (!field_names.empty()) field_names += ", ";
    field_names += f.name;
  }
  std::string field = r.text("field", 64);
  const FieldInfo* info = field_info(field);
  if (!info) {
    errors.add(r.field("field"), "must be one of " + field_names);
    r.member("op");
    r.member("value");
    r.reject_unknown();
    return p;
  }
  p.field = info->field;
  std::vector<PredicateOp> allowed = ops_for(info->kind);
  std::string allowed_names;
  for (PredicateOp op : allowed) {
    if (!allowed_names.empty()) allowed_names += ", ";
    allowed_names += name_of(kOps, op);
  }
  std::string op_name = r.text("op", 32);
  auto op = value_of(kOps, op_name);
  if (!op || std::find(allowed.begin(), allowed.end(), *op) == allowed.end()) {
    errors.add(r.field("op"), "must be one of " + allowed_names + " for " + field);
    r.member("value");
    r.reject_unknown();
    return p;
  }
  p.op = *op;
  const json* v = r.member("value");
  std::string vpath = r.field("value");
  switch (info->kind) {
    case ValueKind::kFlag:
      if (v) errors.add(vpath, "must be left out for " + op_name);
      break;
    case ValueKind::kNumber:
      if (!v || !(v->is_number_integer() || v->is_number_unsigned()) ||
          (v->is_number_integer() && v->get<int64_t>() < 0) ||
          (v->is_number_unsigned() && v->get<uint64_t>() > 1'000'000'000'000ULL)) {
        errors.add(vpath, "must be a whole number of at least 0");
      } else {
        p.numbers.push_back(v->get<int64_t>());
      }
      break;
    case ValueKind::kIdSet: {
      auto id = v ? parse_platform_id(*v) : std::nullopt;
      if (!id)
        errors.add(vpath, "must be a positive integer id");
      else
        p.numbers.push_back(*id);
      break;
    }
    case ValueKind::kTagSet: {
      auto tag = v && v->is_string() && v->get_ref<const std::string&>().size() <= 255
                     ? normalise_tag(v->get_ref<const std::string&>())
                     : std::nullopt;
      if (!tag)
        errors.add(vpath, "must be a tag (a non-empty string)");
      else
        p.strings.push_back(*tag);
      break;
    }
    case ValueKind::kCountry:
    case ValueKind::kCurrency: {
      auto norm = info->kind == ValueKind::kCountry ? normalise_country : normalise_currency;
      std::string what = info->kind == ValueKind::kCountry
                             ? "a two-letter country code such as US"
                             : "a three-letter currency code such as USD";
      bool list = p.op == PredicateOp::kIn || p.op == PredicateOp::kNotIn;
      if (list) {
        if (!v || !v->is_array() || v->empty() || v->size() > 250) {
          errors.add(vpath, "must be a list of 1 to 250 codes, each " + what);
          break;
        }
        for (size_t i = 0; i < v->size(); ++i) {
          const json& e = (*v)[i];
          auto code = e.is_string() ? norm(e.get_ref<const std::string&>()) : std::nullopt;
          if (!code)
            errors.add(vpath + "[" + std::to_string(i) + "]", "must be " + what);
          else
            p.strings.push_back(*code);
        }
      } else {
        auto code = v && v->is_string() ? norm(v->get_ref<const std::string&>()) : std::nullopt;
        if (!code)
          errors.add(vpath, "must be " + what);
        else
          p.strings.push_back(*code);
      }
      break;
    }
  }
  r.reject_unknown();
  return p;
}

json predicate_to_json(const Predicate& p) {
  const FieldInfo& info = field_info(p.field);
  json j{{"field", info.name}, {"op", name_of(kOps, p.op)}};
  switch (info.kind) {
    case ValueKind::kFlag:
      break;
    case ValueKind::kNumber:
    case ValueKind::kIdSet:
      if (!p.numbers.empty()) j["value"] = p.numbers.front();
      break;
    case ValueKind::kTagSet:
      if (!p.strings.empty()) j["value"] = p.strings.front();
      break;
    case ValueKind::kCountry:
    case ValueKind::kCurrency:
      if (p.op == PredicateOp::kIn || p.op == PredicateOp::kNotIn)
        j["value"] = p.strings;
      else if (!p.strings.empty())
        j["value"] = p.strings.front();
      break;
  }
  return j;
}

bool valid_step_id(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

struct StepReader {
  FieldErrors& errors;
  std::set<std::string> ids;  // ids given by the client, checked for uniqueness
  size_t count = 0;
  bool has_send = false;

  std::vector<FlowStep> read_list(const json* list, const std::string& path, int depth) {
    std::vector<FlowStep> out;
    if (!list) return out;
    if (!list->is_array()) {
      errors.add(path, "must be a list of steps");
      return out;
    }
    for (size_t i = 0; i < list->size(); ++i) {
      std::string spath = path + "[" + std::to_string(i) + "]";
      FlowStep step = read_step((*list)[i], spath, depth);
      bool split = step.type == StepType::kConditionalSplit || step.type == StepType::kRandomSplit;
      if (split && i + 1 < list->size()) {
        errors.add(path + "[" + std::to_string(i + 1) + "]",
                   "cannot follow a split: put it inside the split's branches");
      }
      out.push_back(std::move(step));
    }
    return out;
  }

  FlowStep read_step(const json& value, const std::string& path, int depth) {
    FlowStep s;
    ++count;
    ObjectReader r(value, path, errors);
    if (!r.valid()) return s;
    if (r.has("id")) {
      s.id = r.text("id", 32);
      if (!valid_step_id(s.id)) {
        errors.add(r.field("id"), "must be 1 to 32 characters of a-z, 0-9, _ and -");
      } else if (!ids.insert(s.id).second) {
        errors.add(r.field("id"), "repeats the step id \"" + s.id + "\"");
      }
    } else {
      r.member("id");
    }
    std::string type = r.choice(
        "type", {"delay", "send_email", "send_sms", "conditional_split", "random_split"}, true, "");
    auto t = value_of(kStepTypes, type);
    if (!t) {
      r.reject_unknown();  // unknown type: the other members cannot be judged
      return s;
    }
    s.type = *t;
    switch (s.type) {
      case StepType::kDelay:
        s.delay_minutes = r.integer("duration_minutes", 1, kMaxDelayMinutes, true).value_or(0);
        break;
      case StepType::kSendEmail:
        has_send = true;
        s.subject = r.text("subject", 200, true);
        s.preview_text = r.text("preview_text", 200);
        s.body = r.text("body", 100'000, true);
        break;
      case StepType::kSendSms:
        has_send = true;
        // 1600 characters is ten concatenated segments, the most carriers reliably reassemble.
        s.body = r.text("body", 1600, true);
        break;
      case StepType::kConditionalSplit: {
        if (depth >= kMaxSplitDepth) {
          errors.add(path, "nests splits too deeply (at most " + std::to_string(kMaxSplitDepth) +
                               " levels)");
          r.member("condition");
          r.member("yes");
          r.member("no");
          break;
        }
        const json* c = r.member("condition");
        if (!c)
          errors.add(r.field("condition"), "is required");
        else
          s.condition = read_predicate(*c, r.field("condition"), errors);
        s.yes = read_list(r.member("yes"), r.field("yes"), depth + 1);
        s.no = read_list(r.member("no"), r.field("no"), depth + 1);
        break;
      }
      case StepType::kRandomSplit: {
        const json* b = r.member("branches");
        std::string bpath = r.field("branches");
        if (depth >= kMaxSplitDepth) {
          errors.add(path, "nests splits too deeply (at most " + std::to_string(kMaxSplitDepth) +
                               " levels)");
          break;
        }
        if (!b || !b->is_array() || b->size() < 2 || b->size() > 5) {
          errors.add(bpath, "must be a list of 2 to 5 branches");
          break;
        }
        for (size_t i = 0; i < b->size(); ++i) {
          std::string brpath = bpath + "[" + std::to_string(i) + "]";
          ObjectReader br((*b)[i], brpath, errors);
          RandomBranch branch;
          branch.weight = static_cast<int>(br.integer("weight", 1, 1000, true).value_or(1));
          branch.steps = read_list(br.member("steps"), br.field("steps"), depth + 1);
          br.reject_unknown();
          s.branches.push_back(std::move(branch));
        }
        break;
      }
    }
    r.reject_unknown();
    return s;
  }
};

// Gives every step without an id the next free "sN", in document order.
void assign_ids(std::vector<FlowStep>& steps, std::set<std::string>& taken, int& next) {
  for (FlowStep& s : steps) {
    if (s.id.empty()) {
      std::string id;
      do id = "s" + std::to_string(next++);
      while (taken.contains(id));
      taken.insert(id);
      s.id = id;
    }
    assign_ids(s.yes, taken, next);
    assign_ids(s.no, taken, next);
    for (RandomBranch& b : s.branches) assign_ids(b.steps, taken, next);
  }
}

json steps_to_json(const std::vector<FlowStep>& steps) {
  json out = json::array();
  for (const FlowStep& s : steps) {
    json j{{"id", s.id}, {"type", name_of(kStepTypes, s.type)}};
    switch (s.type) {
      case StepType::kDelay:
        j["duration_minutes"] = s.delay_minutes;
        break;
      case StepType::kSendEmail:
        j["subject"] = s.subject;
        j["preview_text"] = s.preview_text;
        j["body"] = s.body;
        break;
      case StepType::kSendSms:
        j["body"] = s.body;
        break;
      case StepType::kConditionalSplit:
        j["condition"] = predicate_to_json(s.condition);
        j["yes"] = steps_to_json(s.yes);
        j["no"] = steps_to_json(s.no);
        break;
      case StepType::kRandomSplit: {
        json branches = json::array();
        for (const RandomBranch& b : s.branches) {
          branches.push_back(json{{"weight", b.weight}, {"steps", steps_to_json(b.steps)}});
        }
        j["branches"] = std::move(branches);
        break;
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::string_view flow_trigger_name(FlowTrigger trigger) { return name_of(kTriggers, trigger); }
std::string_view flow_status_name(FlowStatus status) {
  switch (status) {
    case FlowStatus::kDraft:
      return "draft";
    case FlowStatus::kLive:
      return "live";
    case FlowStatus::kPaused:
      return "paused";
  }
  return "draft";
}
std::string_view exit_condition_name(ExitCondition condition) { return name_of(kExits, condition); }
std::string_view step_type_name(StepType type) { return name_of(kStepTypes, type); }

Result<Flow> flow_from_json(const json& value, std::vector<FieldError>* all_errors) {
  FieldErrors errors;
  Flow f;
  ObjectReader r(value, "flows", errors);
  f.name = r.text("name", 200, true);
  std::string status = r.choice("status", {"draft", "live", "paused"}, false, "draft");
  f.status = status == "live"     ? FlowStatus::kLive
             : status == "paused" ? FlowStatus::kPaused
                                  : FlowStatus::kDraft;
  std::string trigger = r.choice(
      "trigger",
      {"order_paid", "order_fulfilled", "checkout_abandoned", "product_viewed", "offer_declined"},
      true, "order_paid");
  f.trigger = value_of(kTriggers, trigger).value_or(FlowTrigger::kOrderPaid);
  if (const json* filters = r.member("trigger_filters")) {
    std::string path = r.field("trigger_filters");
    if (!filters->is_array() || filters->size() > kMaxFilters) {
      errors.add(path, "must be a list of at most " + std::to_string(kMaxFilters) + " conditions");
    } else {
      for (size_t i = 0; i < filters->size(); ++i) {
        f.trigger_filters.push_back(
            read_predicate((*filters)[i], path + "[" + std::to_string(i) + "]", errors));
      }
    }
  }
  StepReader steps{errors, {}, 0, false};
  f.steps = steps.read_list(r.member("steps"), r.field("steps"), 0);
  if (steps.count > kMaxSteps) {
    errors.add(r.field("steps"), "must have at most " + std::to_string(kMaxSteps) +
                                     " steps in all (has " + std::to_string(steps.count) + ")");
  }
  if (f.status == FlowStatus::kLive && !steps.has_send && r.valid()) {
    errors.add(r.field("steps"), "needs at least one send_email or send_sms step for a live flow");
  }
  std::vector<std::string> exits = r.text_list(
      "exit_conditions", 5, 64,
      [](std::string_view name) -> std::optional<std::string> {
        if (value_of(kExits, name)) return std::string(name);
        return std::nullopt;
      },
      "must be one of " + names_of(kExits));
  for (const std::string& e : exits) f.exit_conditions.push_back(*value_of(kExits, e));
  f.reentry_cooldown_hours = r.integer("reentry_cooldown_hours", 0, 24 * 365).value_or(720);
  r.reject_unknown({"id", "created_at_ms", "updated_at_ms"});

  if (!errors.empty()) {
    if (all_errors) *all_errors = errors.all();
    return std::unexpected(errors.first());
  }
  int next = 1;
  assign_ids(f.steps, steps.ids, next);
  return f;
}

json flow_to_json(const Flow& f) {
  json exits = json::array();
  for (ExitCondition e : f.exit_conditions) exits.push_back(exit_condition_name(e));
  json filters = json::array();
  for (const Predicate& p : f.trigger_filters) filters.push_back(predicate_to_json(p));
  return json{{"id", f.id},
              {"name", f.name},
              {"status", flow_status_name(f.status)},
              {"trigger", flow_trigger_name(f.trigger)},
              {"trigger_filters", std::move(filters)},
              {"steps", steps_to_json(f.steps)},
              {"exit_conditions", std::move(exits)},
              {"reentry_cooldown_hours", f.reentry_cooldown_hours},
              {"created_at_ms", f.created_at_ms},
              {"updated_at_ms", f.updated_at_ms}};
}

}  // namespace afterglow::email
