package engine

import (
	"fmt"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// checkGuarantee refuses what a guarantee = "exactly-once" pipeline cannot
// do: every record read and written, and every offset committed, goes
// through one Kafka transaction per instance, so every source and sink
// (the dead-letter queue too) must be of a function that can join it
// (plugin.Spec.Transactional) and agree on the cluster and the instance
// identity. Each refusal names the stage and key, and says why. A stateful
// operator's changelog joins the transaction too (buildState checks that
// its changelog can).
func checkGuarantee(plan *Plan, broken map[*config.Stage]bool) []error {
	p := plan.Pipeline
	d := p.Pipeline.Delivery
	if !d.ExactlyOnce() {
		return nil
	}
	why := fmt.Sprintf("guarantee = %q (%s)", d.Guarantee, d.GuaranteePos)
	var errs []error
	var first, firstSource *node
	var cluster, instance string
	check := func(n *node) {
		if n.spec.Transactional == nil {
			errs = append(errs, stageErr(config.BadValue, n.st, n.st.FunctionPos, "function", fmt.Sprintf(
				"%s needs every source and sink to be kafka: %s cannot read, write or commit inside a Kafka transaction; use at-least-once, or move this stage to another pipeline",
				why, n.st.Function)))
			return
		}
		c, inst, err := n.spec.Transactional(n.cfg)
		if err != nil {
			errs = append(errs, inStage(n, err))
			return
		}
		switch {
		case first == nil:
			first, cluster = n, c
		case c != cluster:
			errs = append(errs, keyErr(n, "brokers", fmt.Sprintf("%s needs every stage on one cluster (a transaction cannot span two): these brokers (%s) are not stage %q's (%s)",
				why, c, first.st.ID, cluster)))
		}
		if n.role != plugin.RoleSource {
			return
		}
		switch {
		case firstSource == nil:
			firstSource, instance = n, inst
		case inst != instance:
			errs = append(errs, keyErr(n, "group_instance_id", fmt.Sprintf("%s names the instance's one transactional producer after group_instance_id: it must be the same on every source (stage %q has %q, this one %q)",
				why, firstSource.st.ID, instance, inst)))
		}
	}
	for _, n := range plan.nodes {
		switch {
		case n.cfg == nil || broken[n.st]:
		case n.role != plugin.RoleOperator:
			check(n)
		}
	}
	if dl := p.ErrorHandling.DeadLetterQueue; dl != nil && dl.Path != "" {
		errs = append(errs, dlqError(dl.Pos, "path", why+" cannot write a dead-letter file inside the transaction (a file written for an aborted transaction would keep its records): use a dead-letter topic, { topic = \"...\" }"))
	}
	if plan.deadLetter != nil {
		check(plan.deadLetter)
	}
	return errs
}

// inStage reports err, from a Spec.Transactional, at the stage (the
// dead-letter table for the dead-letter queue).
func inStage(n *node, err error) error {
	if n.st.Index < 0 {
		return dlqError(n.st.Pos, "", err.Error())
	}
	return checkErr(n.st, err)
}

// keyErr is msg at the key of n's config (at the stage when the key was
// not written).
func keyErr(n *node, key, msg string) error {
	if n.st.Index < 0 {
		return dlqError(n.st.Pos, key, msg)
	}
	pos := n.st.Pos
	if v, ok := n.st.Config[key]; ok {
		pos = v.Pos
	}
	return stageErr(config.BadValue, n.st, pos, "config."+key, msg)
}
