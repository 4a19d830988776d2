#include "email/step_schedule.h"

#include <string>
#include <vector>

#include "email/predicates.h"
#include "plugin/core/crypto.h"

namespace afterglow::email {
namespace {

constexpr int64_t kHourMs = 3'600'000;

// Where a step sits: its list and index. Lists are the flow's top level, split branches.
struct Position {
  const std::vector<FlowStep>* list = nullptr;
  size_t index = 0;
};

bool locate(const std::vector<FlowStep>& list, std::string_view id, Position& out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const FlowStep& s = list[i];
    if (s.id == id) {
      out = {&list, i};
      return true;
    }
    if (locate(s.yes, id, out) || locate(s.no, id, out)) return true;
    for (const RandomBranch& b : s.branches) {
      if (locate(b.steps, id, out)) return true;
    }
  }
  return false;
}

const FlowStep* first_of(const std::vector<FlowStep>& list) {
  return list.empty() ? nullptr : &list.front();
}

// A weighted draw that depends only on (enrolment, step): re-walking after a crash takes the
// same branch, and the split's shares hold across people.
size_t random_branch(const Enrolment& e, const FlowStep& step) {
  int total = 0;
  for (const RandomBranch& b : step.branches) total += b.weight;
  if (total <= 0) return 0;
  std::string digest = crypto::sha256(std::to_string(e.id) + "|" + step.id);
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x = x << 8 | static_cast<unsigned char>(digest[i]);
  int pick = static_cast<int>(x % static_cast<uint64_t>(total));
  for (size_t i = 0; i < step.branches.size(); ++i) {
    pick -= step.branches[i].weight;
    if (pick < 0) return i;
  }
  return step.branches.size() - 1;
}

Result<void> insert_run(Tx& tx, const Enrolment& e, const FlowStep& step, int64_t due_ms,
                        int64_t now_ms) {
  AG_CHECK(tx.exec(
      "INSERT INTO step_runs (shop_id, enrolment_id, step_id, state, due_at_ms, expires_at_ms, "
      "created_at_ms, updated_at_ms) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) "
      "ON CONFLICT (enrolment_id, step_id) DO NOTHING",
      {e.shop_id, e.id, step.id, due_ms, due_ms + max_lateness_ms(e.trigger), now_ms, now_ms}));
  return {};
}

}  // namespace

const FlowStep* find_step(const Flow& flow, std::string_view step_id) {
  Position p;
  return locate(flow.steps, step_id, p) ? &(*p.list)[p.index] : nullptr;
}

const FlowStep* next_step(const Flow& flow, std::string_view step_id) {
  Position p;
  if (!locate(flow.steps, step_id, p) || p.index + 1 >= p.list->size()) return nullptr;
  return &(*p.list)[p.index + 1];
}

int64_t max_lateness_ms(FlowTrigger trigger) {
  switch (trigger) {
    case FlowTrigger::kCheckoutAbandoned:
    case FlowTrigger::kProductViewed: return 24 * kHourMs;
    case FlowTrigger::kOfferDeclined: return 48 * kHourMs;
    case FlowTrigger::kOrderPaid:
    case FlowTrigger::kOrderFulfilled: return 72 * kHourMs;
  }
  return 24 * kHourMs;
}

Result<void> schedule_from(Tx& tx, const Enrolment& e, const Flow& flow, const FlowStep* step,
                           int64_t now_ms) {
  // Splits only move within the tree, which is finite and acyclic: the walk ends.
  while (step != nullptr) {
    switch (step->type) {
      case StepType::kSendEmail:
      case StepType::kSendSms:
        return insert_run(tx, e, *step, now_ms, now_ms);
      case StepType::kDelay: {
        const FlowStep* after = next_step(flow, step->id);
        if (after == nullptr) break;
        return insert_run(tx, e, *after, now_ms + step->delay_minutes * 60'000, now_ms);
      }
      case StepType::kConditionalSplit: {
        PersonFacts facts = AG_TRY(load_enrolment_facts(tx, e, now_ms));
        bool yes = predicate_holds(step->condition, facts);
        AG_CHECK(log_step(tx, e, step->id, std::nullopt, "branched",
                          yes ? "condition_yes" : "condition_no", "", now_ms));
        step = first_of(yes ? step->yes : step->no);
        continue;
      }
      case StepType::kRandomSplit: {
        size_t i = random_branch(e, *step);
        AG_CHECK(log_step(tx, e, step->id, std::nullopt, "branched", "random_split",
                          "branch " + std::to_string(i + 1) + " of " +
                              std::to_string(step->branches.size()),
                          now_ms));
        step = step->branches.empty() ? nullptr : first_of(step->branches[i].steps);
        continue;
      }
    }
    break;
  }
  AG_CHECK(finish_enrolment(tx, e.id, "completed", "flow_finished", now_ms));
  return {};
}

Result<bool> finish_enrolment(Tx& tx, int64_t enrolment_id, std::string_view state,
                              std::string_view reason, int64_t now_ms) {
  int64_t n = AG_TRY(tx.exec(
      "UPDATE enrolments SET state = ?, exit_reason = ?, finished_at_ms = ? "
      "WHERE id = ? AND state = 'active'",
      {std::string(state), std::string(reason), now_ms, enrolment_id}));
  if (n == 0) return false;
  AG_CHECK(tx.exec(
      "UPDATE step_runs SET state = 'cancelled', outcome = 'cancelled', reason = ?, "
      "lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ? "
      "WHERE enrolment_id = ? AND state = 'pending'",
      {std::string(reason), now_ms, enrolment_id}));
  return true;
}

Result<void> log_step(Tx& tx, const Enrolment& e, std::string_view step_id,
                      std::optional<std::string_view> channel, std::string_view outcome,
                      std::string_view reason, std::string_view detail, int64_t now_ms) {
  AG_CHECK(tx.exec(
      "INSERT INTO send_log (shop_id, enrolment_id, step_id, person_key, customer_id, channel, "
      "outcome, reason, detail, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {e.shop_id, e.id, std::string(step_id), e.person_key,
       e.customer_id ? DbValue(*e.customer_id) : DbValue(),
       channel ? DbValue(std::string(*channel)) : DbValue(), std::string(outcome),
       std::string(reason), detail.empty() ? DbValue() : DbValue(std::string(detail)), now_ms}));
  return {};
}

}  // namespace afterglow::email
