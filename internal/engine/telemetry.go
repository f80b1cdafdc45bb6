package engine

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// startTelemetry makes the run's metrics, with counters for every stage,
// and serves them when Options or [global] http_addr ask for it.
func (r *run) startTelemetry() error {
	r.obs = telemetry.New(pipelineLabel(r.plan.Pipeline), r.opts.Metrics, r.log)
	for _, n := range r.plan.nodes {
		r.obs.AddStage(n.st.ID, n.st.Function, n.role.String())
	}
	l := r.opts.HTTPListener
	if addr := cmp.Or(r.opts.HTTPAddr, r.plan.Pipeline.Global.HTTPAddr); l == nil && addr != "" {
		var err error
		if l, err = net.Listen("tcp", addr); err != nil {
			r.obs.Close() // nothing of the run stays in an embedder's registry
			return fmt.Errorf("serving metrics on http_addr %q: %w", addr, err)
		}
	}
	if l != nil {
		r.obs.Serve(l)
		r.log.Info("serving /metrics, /healthz and /readyz", zap.String("url", "http://"+l.Addr().String()))
	}
	return nil
}

// pipelineLabel is the pipeline label of the run's metrics: its name, else
// its file's name without extension.
func pipelineLabel(p *config.Pipeline) string {
	if p.Pipeline.Name != "" {
		return p.Pipeline.Name
	}
	if p.File != "" {
		return strings.TrimSuffix(filepath.Base(p.File), filepath.Ext(p.File))
	}
	return "pipeline"
}

// watchStages has the run's readiness follow the built sources and sinks
// from now on, until ctx is cancelled or the returned stop is called.
func (r *run) watchStages(ctx context.Context) (stop func()) {
	for n, s := range r.sources {
		r.obs.Watch(n.st.ID, s)
	}
	for n, s := range r.sinks {
		r.obs.Watch(n.st.ID, s.sink)
	}
	for n, s := range r.stateful {
		r.obs.Watch(n.st.ID, stateReady{s.state})
	}
	r.obs.Running(cmp.Or(r.plan.Pipeline.Global.StallTimeout, config.DefaultStallTimeout))
	stopAfter := context.AfterFunc(ctx, r.obs.Stopping)
	return func() {
		stopAfter()
		r.obs.Stopping()
	}
}

// stageSummaries are the per-stage counts, in file order.
func (r *run) stageSummaries() []StageSummary {
	var out []StageSummary
	restores := map[string]state.Progress{}
	for n, s := range r.stateful {
		restores[n.st.ID] = s.state.Progress()
	}
	loads := map[string]plugin.Loading{}
	for n, op := range r.ops {
		if l, ok := op.(plugin.Loader); ok {
			loads[n.st.ID] = l.Loading()
		}
	}
	for _, s := range r.obs.Stages() {
		c := s.Counts()
		rp, lp := restores[s.ID], loads[s.ID]
		out = append(out, StageSummary{ID: s.ID, Function: s.Function, Role: s.Role,
			In: c.In, Out: c.Out, Filtered: c.Filtered, Failed: c.Failed, DeadLettered: c.DeadLettered, Invalid: c.Invalid, Late: c.Late,
			Restoring: rp.Restoring, Restored: rp.Restored, ToRestore: rp.ToRead,
			Loading: lp.Parts, Loaded: lp.Done, ToLoad: lp.Total, LoadingWhat: lp.What})
	}
	return out
}
