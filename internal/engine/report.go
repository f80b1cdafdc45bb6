package engine

import (
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
)

// defaultReportInterval is how often a running pipeline asks its stages for
// a report when Options.ReportInterval is not set.
const defaultReportInterval = time.Minute

// stageReport is a stage that implements plugin.Reporter, with the logger
// that names it.
type stageReport struct {
	rep plugin.Reporter
	log *zap.Logger
}

// reporters lists the stages that report, in file order.
func (r *run) reporters() []stageReport {
	var out []stageReport
	for _, n := range r.plan.nodes {
		var c any
		switch n.role {
		case plugin.RoleSource:
			c = r.sources[n]
		case plugin.RoleOperator:
			c = r.ops[n]
		default:
			c = r.sinks[n]
		}
		if rep, ok := c.(plugin.Reporter); ok {
			out = append(out, stageReport{rep: rep, log: r.env(n, false).Logger})
		}
	}
	return out
}

// startReports has every reporting stage report each ReportInterval until
// the returned stop is called; stop waits for a report in progress, then
// has each report once more, final. Call stop after the sources are done.
func (r *run) startReports() (stop func()) {
	reps := r.reporters()
	report := func(final bool) {
		for _, s := range reps {
			s.rep.Report(s.log, final)
		}
	}
	interval := r.opts.ReportInterval
	if interval <= 0 {
		interval = defaultReportInterval
	}
	stopTicks := every(interval, func() { report(false) })
	return func() {
		stopTicks()
		report(true)
	}
}
