// Package flow runs Conveyor pipelines.
//
//	cfg, err := config.Load("pipeline.toml")
//	if err != nil { ... }
//	err = flow.Run(ctx, cfg)
//
// Run returns when a bounded pipeline has finished (every source reached its
// limit or its end, everything read was written, sinks flushed and offsets
// committed) or, for a streaming one, when ctx is cancelled and the run has
// drained. The built-in functions (kafka, json.read, json.write,
// sql.outbox, sql.write, filter.apply, stdout.write; package connectors/all
// registers them) are available through the default registry; WithRegistry
// runs against another one.
//
// A failed run's error wraps the connectors' sentinel errors
// (kafka.ErrUnreachable, kafka.ErrTopicNotFound, jsonfile.ErrInputNotFound,
// ...) for errors.Is.
package flow

import (
	"context"
	"net"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/engine"
	"github.com/conveyor-etl/conveyor/plugin"

	// The built-in functions register themselves in plugin.Default().
	_ "github.com/conveyor-etl/conveyor/connectors/all"
)

// Summary is what a run did: records in, out, filtered, failed, and time.
type Summary struct {
	// In counts the records the sources read, each once. Out counts the
	// records the sinks made durable, each write once: a record that a
	// fan-out sends to two sinks is written, and counted, twice (only
	// fan-out, or an operator that makes several records of one, makes Out
	// exceed In).
	In, Out int64
	// Filtered counts the records read that reached no sink because
	// operators dropped them, each once however many branches of a fan-out
	// dropped it (so Filtered <= In; the stages' own counts say what each
	// dropped). Failed counts records given up on, once per stage that gave
	// up on them: skipped (continue), sent to the dead-letter queue, or that
	// stopped the run (stop, or retry with no dead-letter queue), including
	// every record of a sink write that failed as a whole. DeadLettered
	// counts those written to the dead-letter queue. Without fan-out, and
	// with operators that pass each record on at most once, a finished run
	// has In = Out + Filtered + Failed.
	Filtered, Failed, DeadLettered int64
	// InBytes is the size of the records the sources read, before enrichment.
	InBytes int64
	// Elapsed is how long the run took.
	Elapsed time.Duration
	// Stages breaks the counts down per stage, in file order.
	Stages []StageSummary
}

// StageSummary is what one stage did. A source's In and Out are the
// records it read. An operator's In are the records that reached it, Out
// those it passed on, Filtered those it dropped. A sink's In are the
// records handed to it, Out those it made durable. Failed and DeadLettered
// count the stage's records given up on and sent to the dead-letter queue
// (see Summary).
type StageSummary struct {
	ID, Function string
	Role         string // source, operator or sink
	In, Out      int64
	Filtered     int64
	Failed       int64
	DeadLettered int64
	// Invalid counts, for a source, the records it read whose value was not
	// valid JSON (see the kafka source's invalid key).
	Invalid int64
	// Late counts, for a stateful operator (window.aggregate), the records
	// that came after their window closed, dropped or dead-lettered.
	Late int64
	// Restoring counts, for a stateful operator, the partitions whose state
	// is being restored from its changelog now; Restored and ToRestore the
	// changelog records restored and to restore so far.
	Restoring, Restored, ToRestore int64
	// Loading counts, for an operator that loads what it needs before it
	// applies records (table.join's table), the parts (partitions) being
	// loaded now; Loaded and ToLoad the units (offsets) loaded and to load
	// so far; LoadingWhat names what (a table topic).
	Loading, Loaded, ToLoad int64
	LoadingWhat             string
}

// String is "id in=N out=N", with filtered, failed, dead_lettered and
// invalid when not zero.
func (s StageSummary) String() string { return engine.StageSummary(s).String() }

// RecordsPerSecond is In over Elapsed.
func (s Summary) RecordsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.In) / s.Elapsed.Seconds()
}

func (s Summary) String() string { return s.engine().String() }

// summary converts the runtime's summary at the package boundary. The
// stage type converts as a whole (same fields, so a field added to one and
// not the other fails to compile here); the summary field by field.
func summary(s engine.Summary) Summary {
	out := Summary{In: s.In, Out: s.Out, Filtered: s.Filtered, Failed: s.Failed, DeadLettered: s.DeadLettered,
		InBytes: s.InBytes, Elapsed: s.Elapsed}
	for _, st := range s.Stages {
		out.Stages = append(out.Stages, StageSummary(st))
	}
	return out
}

func (s Summary) engine() engine.Summary {
	out := engine.Summary{In: s.In, Out: s.Out, Filtered: s.Filtered, Failed: s.Failed, DeadLettered: s.DeadLettered,
		InBytes: s.InBytes, Elapsed: s.Elapsed}
	for _, st := range s.Stages {
		out.Stages = append(out.Stages, engine.StageSummary(st))
	}
	return out
}

// Option changes how a pipeline runs. Options are made by the With
// functions of this package.
type Option struct{ apply func(*options) }

// options is what the Options set; run converts it to the runtime's.
type options struct {
	registry     *plugin.Registry
	logger       *zap.Logger
	drainTimeout time.Duration
	middleware   []message.HandlerMiddleware
	progress     func(Summary)
	progressIntv time.Duration
	httpAddr     string
	httpListener net.Listener
	metrics      prometheus.Registerer
}

// WithRegistry runs with reg instead of plugin.Default().
func WithRegistry(reg *plugin.Registry) Option {
	return Option{func(o *options) { o.registry = reg }}
}

// WithLogger logs to l (default: no logging).
func WithLogger(l *zap.Logger) Option { return Option{func(o *options) { o.logger = l }} }

// WithDrainTimeout bounds how long a stopping run waits for in-flight
// batches (default 30s). What does not finish in time is not committed and
// is read again by the next run.
func WithDrainTimeout(d time.Duration) Option {
	return Option{func(o *options) { o.drainTimeout = d }}
}

// WithMiddleware adds Watermill handler middleware to the router handler
// of every source, outside the pipeline's operators, in the order given
// (the first is outermost): Recoverer, Timeout, Throttle, CorrelationID,
// or your own. A handler's produced messages carry its source message's
// metadata, so CorrelationID and the like see them. Timeout bounds the
// handler (operators and their retries), not the sink writes that follow
// it, which end with the source's claim or the drain timeout.
func WithMiddleware(m ...message.HandlerMiddleware) Option {
	return Option{func(o *options) { o.middleware = append(o.middleware, m...) }}
}

// WithProgress has f called every interval (one second if interval <= 0)
// while the pipeline runs, from one goroutine, with the run's counts so far
// (Elapsed is the time since the run started). f is never called after
// Execute returns, and must return quickly.
func WithProgress(interval time.Duration, f func(Summary)) Option {
	return Option{func(o *options) { o.progress, o.progressIntv = f, interval }}
}

// WithHTTPAddr serves /metrics (Prometheus), /healthz and /readyz on
// addr ("127.0.0.1:9464") while the run lasts, as `conveyor run
// --http-addr` does; it overrides [global] http_addr. Without it or that
// key, nothing is served.
func WithHTTPAddr(addr string) Option { return Option{func(o *options) { o.httpAddr = addr }} }

// WithHTTPListener is WithHTTPAddr on a listener the caller opened (port 0,
// say, to learn the port); the run closes it when it ends.
func WithHTTPListener(l net.Listener) Option { return Option{func(o *options) { o.httpListener = l }} }

// WithMetrics registers the run's metrics (names in the README's "Operate"
// section; not the Go and process collectors) with reg as well, for an
// embedder that serves its own /metrics. They are unregistered when the
// run ends, so that runs one after another can use the same reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return Option{func(o *options) { o.metrics = reg }}
}

// Run runs the pipeline; see the package doc.
func Run(ctx context.Context, cfg *config.Pipeline, opts ...Option) error {
	_, err := Execute(ctx, cfg, opts...)
	return err
}

// Execute is Run that also returns the run's Summary.
func Execute(ctx context.Context, cfg *config.Pipeline, opts ...Option) (Summary, error) {
	sum, err := engine.Run(ctx, cfg, engineOptions(opts))
	return summary(sum), err
}

// Validate checks cfg against the registry (functions, roles, every stage's
// config) without connecting to anything, and returns every problem at once
// as config.Errors.
func Validate(cfg *config.Pipeline, opts ...Option) error {
	_, err := engine.Compile(cfg, engineOptions(opts).Registry)
	return err
}

// Registry is the default registry, holding the built-in functions.
func Registry() *plugin.Registry { return plugin.Default() }

// engineOptions applies opts over the defaults and converts them to the
// runtime's options at the package boundary. A zero Option does nothing.
func engineOptions(opts []Option) engine.Options {
	o := options{registry: plugin.Default()}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(&o)
		}
	}
	ro := engine.Options{Registry: o.registry, Logger: o.logger, DrainTimeout: o.drainTimeout, Middleware: o.middleware,
		ProgressInterval: o.progressIntv, HTTPAddr: o.httpAddr, HTTPListener: o.httpListener, Metrics: o.metrics}
	if f := o.progress; f != nil {
		ro.Progress = func(s engine.Summary) { f(summary(s)) }
	}
	return ro
}
