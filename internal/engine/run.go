package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/internal/wmlog"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Options tune a run.
type Options struct {
	Registry *plugin.Registry // default plugin.Default()
	Logger   *zap.Logger      // default zap.NewNop()
	// DrainTimeout bounds a stop: waiting for in-flight batches, flushing
	// the sinks and the final commit together. Batches not done in time are
	// not committed, so they are read again next time. Default: the longest
	// drain timeout of the pipeline's sources (a kafka source's
	// drain_timeout_ms), else defaultDrainTimeout.
	DrainTimeout time.Duration
	// ReportInterval is how often stages that implement plugin.Reporter
	// report while the pipeline runs; they report once more at the end.
	// Default one minute.
	ReportInterval time.Duration
	// Middleware is added to every source's router handler, outside the
	// operators (Watermill's Recoverer, Timeout, Throttle, CorrelationID
	// and the like).
	Middleware []message.HandlerMiddleware
	// Progress, when set, is called every ProgressInterval (default one
	// second) while the pipeline runs, from one goroutine, with the counts
	// so far; never after Run returns. It must return quickly.
	Progress         func(Summary)
	ProgressInterval time.Duration
	// Metrics, when set, receives the run's metrics too (they are always
	// served by the run's own HTTP server when there is one).
	Metrics prometheus.Registerer
	// HTTPAddr or HTTPListener serve /metrics, /healthz and /readyz while
	// the run lasts; HTTPAddr defaults to [global] http_addr.
	HTTPAddr     string
	HTTPListener net.Listener
}

// run is one execution of a plan.
type run struct {
	plan   *Plan
	id     string // the run id, config.NewRunID
	opts   Options
	log    *zap.Logger
	ctx    context.Context // for writes; cancelled only when draining gives up
	cancel context.CancelFunc
	counts counters
	policy *policy
	budget *plugin.Budget
	obs    *telemetry.Run

	sources map[*node]plugin.Source
	closers map[*node]*closing // each source's Close, called once
	ops     map[*node]plugin.Operator
	sinks   map[*node]*sinkStage
	seq     *sequencer
	// stateful are the stateful operators (see stateful.go), pending their
	// batches' state changes not yet written.
	stateful map[*node]*statefulStage
	pending  pendingStates
	// readers are the sources of repartition topics (see repartition.go),
	// each with the stage it feeds; they are in sources too.
	readers map[*node]*statefulStage
	// inputEnded: the sources finished by themselves (a bounded input
	// ended), not by a stop or an error.
	inputEnded bool
	// wrapped are the sources' counts of invalid records passed on (see
	// invalidRecords), filled before the router starts.
	wrapped []*wrappedCount

	fatalOnce sync.Once
	fatalErr  error
	fatalCh   chan struct{}

	stuckStop bool // a stop gave up waiting for a stage that ignores its context

	busyMu sync.Mutex
	busy   map[string]*busy // per operator and sink stage; see busyStage
}

// Run compiles p, runs it until its sources finish or ctx is cancelled, and
// returns what it did. Cancelling ctx drains: sources stop reading, batches
// in flight finish, sinks flush and offsets are committed.
func Run(ctx context.Context, p *config.Pipeline, opts Options) (Summary, error) {
	if opts.Registry == nil {
		opts.Registry = plugin.Default()
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	plan, err := Compile(p, opts.Registry)
	if err != nil {
		return Summary{}, err
	}
	r := &run{plan: plan, id: config.NewRunID(time.Now()), opts: opts, log: opts.Logger, fatalCh: make(chan struct{}),
		sources: map[*node]plugin.Source{}, closers: map[*node]*closing{}, ops: map[*node]plugin.Operator{}, sinks: map[*node]*sinkStage{}, seq: newSequencer()}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	defer r.cancel()
	mb := p.Global.MaxInflightMB
	if mb <= 0 {
		mb = config.DefaultMaxInflightMB
	}
	r.budget = plugin.NewBudget(int64(mb) << 20)
	start := time.Now()
	if err := r.startTelemetry(); err != nil {
		return Summary{}, err
	}
	defer r.obs.Close()
	if err := r.build(ctx); err != nil {
		r.closeAll()
		return Summary{}, err
	}
	if r.opts.DrainTimeout <= 0 {
		r.opts.DrainTimeout = r.sourcesDrainTimeout()
	}
	stopProgress := r.startProgress(start)
	if err := r.load(ctx); err != nil {
		stopProgress()
		r.closeAll()
		return Summary{}, err
	}
	err = r.execute(ctx)
	stopProgress()
	sum := r.summary(time.Since(start))
	r.warnWrapped()
	r.log.Info("pipeline finished", zap.String("pipeline", p.Pipeline.Name), zap.Int64("in", sum.In), zap.Int64("out", sum.Out),
		zap.Int64("filtered", sum.Filtered), zap.Int64("failed", sum.Failed), zap.Duration("elapsed", sum.Elapsed),
		zap.Float64("records_per_sec", sum.RecordsPerSecond()), zap.Bool("ok", err == nil), zap.String("stages", sum.stagesText()))
	return sum, err
}

// fatalError is the error that stopped the run, or nil. (fatal may still be
// called from a source's watcher while the run finishes.)
func (r *run) fatalError() error {
	select {
	case <-r.fatalCh:
		return r.fatalErr
	default:
		return nil
	}
}

// fatal records the first error that stops the run and returns err.
func (r *run) fatal(err error) error {
	r.fatalOnce.Do(func() {
		r.fatalErr = err
		close(r.fatalCh)
	})
	return err
}

// build makes sinks first (a source needs to know whether its sinks are
// durable on ack), then operators, then sources.
func (r *run) build(ctx context.Context) error {
	for _, n := range r.plan.nodes {
		if n.role == plugin.RoleSink {
			s, err := n.spec.Sink.Build(ctx, n.cfg, r.env(n, false))
			if err != nil {
				return buildErr(n, err)
			}
			r.sinks[n] = &sinkStage{st: n.st, sink: s, obs: r.obs.Stage(n.st.ID), busy: r.busyStage(n.st.ID)}
		}
	}
	dlq, err := r.buildDeadLetter(ctx)
	if err != nil {
		return err
	}
	r.policy = &policy{eh: r.plan.Pipeline.ErrorHandling, dlq: dlq, counts: &r.counts, obs: r.obs, log: r.log}
	if dl := r.plan.Pipeline.ErrorHandling.DeadLetterQueue; dl != nil && dl.Path == "" {
		r.policy.dlqLimit = dlqTopicRecordLimit
	}
	for _, n := range r.plan.nodes {
		if n.role == plugin.RoleOperator {
			op, err := n.spec.Operator.Build(ctx, n.cfg, r.env(n, false))
			if err != nil {
				return buildErr(n, err)
			}
			r.ops[n] = op
		}
	}
	for _, n := range r.plan.sources {
		src, err := n.spec.Source.Build(ctx, n.cfg, r.env(n, r.durableBelow(n)))
		if err != nil {
			return buildErr(n, err)
		}
		r.sources[n] = src
		r.closers[n] = &closing{s: src}
	}
	return r.buildState()
}

func buildErr(n *node, err error) error {
	return fmt.Errorf("stage %q (%s): %w", n.st.ID, n.st.Function, err)
}

func (r *run) env(n *node, durableOnAck bool) plugin.Env {
	return plugin.Env{Stage: n.st, Dir: r.dir(), SourceFunctions: r.plan.sourceFunctions(n), DurableOnAck: durableOnAck, Budget: r.budget, RunID: r.id, Metrics: r.obs.Registerer(n.st.ID),
		Delivery: r.plan.Pipeline.Pipeline.Delivery, Name: r.plan.Pipeline.Pipeline.Name,
		Logger: r.log.With(zap.String("stage", n.st.ID), zap.String("function", n.st.Function))}
}

// dir is the pipeline file's directory, where relative paths start.
func (r *run) dir() string { return r.plan.Pipeline.Dir() }

// durableBelow reports whether every sink below n is durable when Publish
// returns (none is a Flusher), so that n may commit as acks come in.
func (r *run) durableBelow(n *node) bool {
	for _, c := range n.children {
		if c.role == plugin.RoleSink {
			if _, flushes := r.sinks[c].sink.(plugin.Flusher); flushes {
				return false
			}
		}
		if !r.durableBelow(c) {
			return false
		}
	}
	return true
}

// execute runs the router until the sources are done, then flushes the
// sinks and commits the sources.
func (r *run) execute(ctx context.Context) error {
	// The router's goroutines may log after it has returned (a second
	// Close): nothing of the run may write to the caller's logger once
	// execute has returned.
	wl, silence := wmlog.Gated(r.log)
	defer silence()
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.opts.DrainTimeout}, wl)
	if err != nil {
		return err
	}
	sinks := map[string]*sinkStage{}
	for _, s := range r.sinks {
		sinks[s.st.ID] = s
	}
	d := &dispatcher{r: r, sinks: sinks}
	runEnded := make(chan struct{})
	defer close(runEnded)
	for _, n := range append(slices.Clone(r.plan.sources), r.readerNodes()...) {
		h := router.AddHandler(n.st.ID, n.st.ID, sequenced{Source: r.sources[n], closer: r.closers[n], stage: n.st.ID, seq: r.seq, done: runEnded}, n.st.ID, d, r.handler(n))
		h.AddMiddleware(append([]message.HandlerMiddleware{r.outermost(n), r.invalidRecords(n)}, r.opts.Middleware...)...)
	}
	routerDone := make(chan error, 1)
	routerReturned := make(chan struct{})
	go func() {
		defer close(routerReturned)
		routerDone <- router.Run(context.Background())
	}()
	select {
	case <-router.Running():
	case err := <-routerDone:
		if err != nil {
			r.closeAll()
			return fmt.Errorf("starting the pipeline: %w", err)
		}
		// A nil error: the router ran and every handler has ended already
		// (a small bounded input), racing Running in this select. Hand it
		// on to wait, which then drains the sources.
		routerDone <- nil
	}
	r.log.Info("pipeline running", zap.String("pipeline", r.plan.Pipeline.Pipeline.Name), zap.String("run_id", r.id), zap.Int("sources", len(r.sources)), zap.Int("sinks", len(r.sinks)))
	stopReports := r.startReports()
	stopWatching := r.watchStages(ctx)
	stopReaders := r.endReaders()
	defer stopReaders()
	stopIdle := r.watchIdle()
	deadline := r.wait(ctx, routerDone)
	stopIdle()
	if r.inputEnded && r.fatalError() == nil {
		if err := r.endState(d); err != nil {
			r.fatal(err)
		}
	}
	stopWatching()
	stopReports()
	// Past the deadline (plus stopMargin), nothing of the stop waits any
	// longer for a stage that ignores its context.
	end := deadline.Add(stopMargin)
	if r.stuckStop {
		var ferr error
		if r.within(end, "the final flush and commit", func() { ferr = r.finish(deadline) }) {
			err = ferr
		} else {
			err = r.fatalError()
		}
	} else {
		err = r.finish(deadline)
	}
	var cerr error
	if r.within(end, "the router's handlers", func() {
		cerr = router.Close()
		// Run logs as it returns: nothing of the run may still write to
		// the caller's logger once Run has returned.
		<-routerReturned
	}) && err == nil {
		err = cerr
	}
	r.within(end, "closing the stages", r.closeAll)
	return err
}

// defaultDrainTimeout bounds a stop when no source says otherwise.
const defaultDrainTimeout = 10 * time.Second

// sourcesDrainTimeout is the longest drain timeout a source asks for.
func (r *run) sourcesDrainTimeout() time.Duration {
	d := time.Duration(0)
	for _, s := range r.sources {
		if dt, ok := s.(interface{ DrainTimeout() time.Duration }); ok {
			d = max(d, dt.DrainTimeout())
		}
	}
	if d == 0 {
		return defaultDrainTimeout
	}
	return d
}

// commitReserve is the part of DrainTimeout kept for flushing the sinks and
// the final commit: a quarter, at most 5 s.
func (r *run) commitReserve() time.Duration {
	return min(r.opts.DrainTimeout/4, 5*time.Second)
}

// wait returns when every source is done: by itself, after ctx is cancelled
// (drained within DrainTimeout less the commit reserve), or after a fatal
// error. It returns the deadline of the flush and final commit. A stop
// that times out cuts off what is in flight (see stop.go) and waits at
// most until that deadline for it to end.
func (r *run) wait(ctx context.Context, routerDone <-chan error) time.Time {
	all := make(chan struct{})
	go func() {
		for _, s := range r.sources {
			<-s.Done()
		}
		close(all)
	}()
	// A source that fails (its commits refused for good, say) stops the
	// whole run, not only itself.
	for _, s := range r.sources {
		go func() {
			<-s.Done()
			if err := sourceErr(s); err != nil {
				r.fatal(err)
			}
		}()
	}
	select {
	case <-all:
		r.inputEnded = true
		return time.Now().Add(r.opts.DrainTimeout)
	case <-ctx.Done():
		r.log.Info("stopping: draining in-flight batches, then flushing and committing", zap.Duration("drain_timeout", r.opts.DrainTimeout))
	case <-r.fatalCh:
		r.log.Error("stopping after an error", zap.Error(r.fatalErr))
	case err := <-routerDone:
		// nil: every handler ended because the sources stopped emitting,
		// which can win this select against all; wait for them below.
		if err != nil {
			r.fatal(fmt.Errorf("router stopped: %v", err))
		} else if r.allDone(all) {
			r.inputEnded = true
			return time.Now().Add(r.opts.DrainTimeout)
		}
	}
	deadline := time.Now().Add(r.opts.DrainTimeout)
	for _, s := range r.sources {
		s.Stop()
	}
	drain := time.NewTimer(r.opts.DrainTimeout - r.commitReserve())
	defer drain.Stop()
	select {
	case <-all:
		return deadline
	case <-drain.C:
	}
	err := r.drainTimedOut()
	r.fatal(err)
	r.log.Warn("drain timed out; batches still in flight are cut off, not committed, and will be read again", zap.Error(err))
	r.cancel()
	cut := time.NewTimer(time.Until(deadline) - r.commitReserve()/2)
	defer cut.Stop()
	select {
	case <-all:
	case <-cut.C:
		r.stuckStop = true
		r.log.Error("a stage ignores its context: the stop goes on without it, committing only what was acked", zap.Strings("busy", r.stuck()))
	}
	return deadline
}

// allDone waits for all, the sources done, after the router returned by
// itself: they follow at once, unless a source outlives its channel (then
// the stop below deals with it).
func (r *run) allDone(all <-chan struct{}) bool {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-all:
		return r.fatalError() == nil
	case <-t.C:
		return false
	}
}

// finish flushes the sinks and commits the sources. After a failure only
// sources whose sinks are durable on ack commit (what they commit was
// acked); the others commit nothing, and their unflushed output is dropped.
func (r *run) finish(deadline time.Time) error {
	fatalErr := r.fatalError()
	errs := []error{fatalErr}
	for _, s := range r.sources {
		if err := sourceErr(s); err != nil && fatalErr == nil {
			errs = append(errs, err)
		}
	}
	ok := errors.Join(errs...) == nil
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if ok {
		for n, s := range r.sinks {
			if f, flushes := s.sink.(plugin.Flusher); flushes {
				if err := f.Flush(ctx); err != nil {
					errs = append(errs, buildErr(n, fmt.Errorf("flush: %w", err)))
					ok = false
				}
			}
		}
	}
	for n, s := range r.sources {
		if c, commits := s.(plugin.Committer); commits && (ok || r.durableBelow(n)) {
			if err := c.Commit(ctx); err != nil {
				errs = append(errs, buildErr(n, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (r *run) closeAll() {
	for n, c := range r.closers {
		if err := c.close(); err != nil {
			r.log.Warn("closing source", zap.String("stage", n.st.ID), zap.Error(err))
		}
	}
	for n, op := range r.ops {
		if c, ok := op.(io.Closer); ok {
			if err := c.Close(); err != nil {
				r.log.Warn("closing operator", zap.String("stage", n.st.ID), zap.Error(err))
			}
		}
	}
	for n, s := range r.stateful {
		if err := s.state.Close(); err != nil {
			r.log.Warn("closing the changelog", zap.String("stage", n.st.ID), zap.Error(err))
		}
		if s.rep != nil {
			if err := s.rep.rp.Close(); err != nil {
				r.log.Warn("closing the repartition topic's producer", zap.String("stage", n.st.ID), zap.Error(err))
			}
		}
	}
	for n, s := range r.sinks {
		if err := s.sink.Close(); err != nil {
			r.log.Warn("closing sink", zap.String("stage", n.st.ID), zap.Error(err))
		}
	}
	if r.policy != nil && r.policy.dlq != nil {
		_ = r.policy.dlq.sink.Close()
	}
}

func (r *run) summary(elapsed time.Duration) Summary {
	s := Summary{Out: r.counts.out.Load(), Filtered: r.counts.filtered.Load(), Failed: r.counts.failed.Load(),
		DeadLettered: r.counts.deadLettered.Load(), Elapsed: elapsed, Stages: r.stageSummaries()}
	for n, src := range r.sources {
		if c, ok := src.(plugin.Counter); ok && r.readers[n] == nil {
			st := c.Stats()
			s.In += st.Records
			s.InBytes += st.Bytes
		}
	}
	return s
}

// closing closes a source once, whoever asks first: the router, when the
// source's handler ends, or closeAll (the Source contract says once).
type closing struct {
	once sync.Once
	err  error
	s    plugin.Source
}

func (c *closing) close() error {
	c.once.Do(func() { c.err = c.s.Close() })
	return c.err
}

// sourceErr is why s failed, for a source that can fail on its own.
func sourceErr(s plugin.Source) error {
	if f, ok := s.(plugin.Failer); ok {
		return f.Err()
	}
	return nil
}
