package engine

import (
	"fmt"

	"github.com/conveyor-etl/conveyor/config"
)

// checkStateful refuses what a stateful stage (one whose Spec declares
// State) asks of the rest of the pipeline and cannot have: late =
// "dead_letter" without a dead-letter queue (reported at the stage's late
// key), and a stateful stage upstream in another time (see
// checkTimeFields).
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
	return append(errs, checkTimeFields(plan, broken)...)
}

// checkTimeFields refuses a stateful stage fed, directly or through
// stateless stages (whose records carry the watermark on), by a stateful
// stage whose time field differs: the upstream watermark is progress in
// the other time, so it makes the downstream stage's records late or
// closes its windows early. It is reported at the downstream stage's
// time_field key (at the stage when the key is defaulted).
func checkTimeFields(plan *Plan, broken map[*config.Stage]bool) []error {
	parents := map[*node][]*node{}
	for _, n := range plan.nodes {
		for _, c := range n.children {
			parents[c] = append(parents[c], n)
		}
	}
	var errs []error
	for _, n := range plan.nodes {
		tf := timeField(n, broken)
		if tf == "" {
			continue
		}
		for _, up := range statefulAbove(n, parents) {
			utf := timeField(up, broken)
			if utf == "" || utf == tf {
				continue
			}
			errs = append(errs, keyErr(n, "time_field", fmt.Sprintf(
				"time_field = %q, but stage %q upstream keeps its watermark in time_field = %q, which this stage would take as progress in its own time (its records late, or its windows closed early): set time_field = %q on stage %q too",
				tf, up.st.ID, utf, tf, up.st.ID)))
		}
	}
	return errs
}

// timeField is n's declared time field; "" for a stage that is not
// stateful, did not compile, or declares none.
func timeField(n *node, broken map[*config.Stage]bool) string {
	if n.spec.State == nil || n.cfg == nil || broken[n.st] {
		return ""
	}
	return n.spec.State(n.cfg).TimeField
}

// statefulAbove lists the nearest stateful stages above n: its inputs,
// and through a stateless stage that stage's inputs, in file order, each
// once.
func statefulAbove(n *node, parents map[*node][]*node) []*node {
	var out []*node
	seen := map[*node]bool{}
	var walk func(*node)
	walk = func(c *node) {
		for _, p := range parents[c] {
			if seen[p] {
				continue
			}
			seen[p] = true
			if p.spec.State != nil {
				out = append(out, p)
				continue
			}
			walk(p)
		}
	}
	walk(n)
	return out
}
