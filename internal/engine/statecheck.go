package engine

import (
	"github.com/conveyor-etl/conveyor/config"
)

// checkStateful refuses what a stateful stage (one whose Spec declares
// State) asks of the rest of the pipeline and cannot have: late =
// "dead_letter" without a dead-letter queue. It is reported at the stage's
// late key.
func checkStateful(plan *Plan, broken map[*config.Stage]bool) []error {
	var errs []error
	for _, n := range plan.nodes {
		if n.spec.State == nil || n.cfg == nil || broken[n.st] {
			continue
		}
		if n.spec.State(n.cfg).Late == "dead_letter" && plan.Pipeline.ErrorHandling.DeadLetterQueue == nil {
			errs = append(errs, keyErr(n, "late", `late = "dead_letter" sends late records to the dead-letter queue, and the pipeline has none: add [error_handling.dead_letter_queue], or use late = "drop"`))
		}
	}
	return errs
}
