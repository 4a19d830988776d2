// Moving an enrolment through its flow's step tree, up to the next thing that has to wait.
//
// Only send steps and the steps after a delay get a step_runs row; delays and splits are walked
// at once: a delay schedules what follows it at now + delay, a conditional split is evaluated at
// the moment it is reached (so a split placed after a delay sees what happened during the
// delay), a random split takes a branch drawn from the enrolment and step ids (sticky and
// reproducible: the same person always gets the same branch). An enrolment with no step left is
// completed. Every branch taken is written to send_log (outcome "branched").
//
// Calls run in the caller's transaction and keep no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "email/enrolment.h"
#include "email/flow_model.h"
#include "plugin/core/db.h"

namespace afterglow::email {

// The step with that id anywhere in the tree, or nullptr.
const FlowStep* find_step(const Flow& flow, std::string_view step_id);

// The step that follows `step_id` in its list, or nullptr when it is the last of its list (a
// split ends its list, so the end of a branch is the end of the flow).
const FlowStep* next_step(const Flow& flow, std::string_view step_id);

// How late a step of a flow with this trigger may still go out: an abandoned-cart reminder a
// day late is noise, a post-purchase follow-up three days late is still relevant.
int64_t max_lateness_ms(FlowTrigger trigger);

// Walks from `step` (inclusive; nullptr = the end) and stores the next step run, or completes
// the enrolment. A send step gets a run due at now_ms. A step that already has a run (any
// state) is not scheduled again: the unique (enrolment, step) key makes a replayed walk
// harmless.
Result<void> schedule_from(Tx& tx, const Enrolment& enrolment, const Flow& flow,
                           const FlowStep* step, int64_t now_ms);

// Ends the enrolment (state completed | exited | cancelled, with a reason) and cancels its
// pending step runs. A finished enrolment is left as it is; returns whether it changed.
Result<bool> finish_enrolment(Tx& tx, int64_t enrolment_id, std::string_view state,
                              std::string_view reason, int64_t now_ms);

// Appends a send_log row for the enrolment's step.
Result<void> log_step(Tx& tx, const Enrolment& enrolment, std::string_view step_id,
                      std::optional<std::string_view> channel, std::string_view outcome,
                      std::string_view reason, std::string_view detail, int64_t now_ms);

}  // namespace afterglow::email
