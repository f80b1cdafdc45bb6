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
// filter.apply, stdout.write) are available through the default registry;
// WithRegistry runs against another one.
package flow

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/runtime"
	"github.com/conveyor-etl/conveyor/plugin"

	// The built-in functions register themselves in plugin.Default().
	_ "github.com/conveyor-etl/conveyor/connectors/jsonfile"
	_ "github.com/conveyor-etl/conveyor/connectors/kafka"
	_ "github.com/conveyor-etl/conveyor/connectors/stdout"
	_ "github.com/conveyor-etl/conveyor/operators"
)

// Summary is what a run did: records in, out, filtered, failed, and time.
type Summary = runtime.Summary

// Option changes how a pipeline runs.
type Option func(*runtime.Options)

// WithRegistry runs with reg instead of plugin.Default().
func WithRegistry(reg *plugin.Registry) Option { return func(o *runtime.Options) { o.Registry = reg } }

// WithLogger logs to l (default: no logging).
func WithLogger(l *zap.Logger) Option { return func(o *runtime.Options) { o.Logger = l } }

// WithDrainTimeout bounds how long a stopping run waits for in-flight
// batches (default 30s). What does not finish in time is not committed and
// is read again by the next run.
func WithDrainTimeout(d time.Duration) Option { return func(o *runtime.Options) { o.DrainTimeout = d } }

// WithHTTPAddr serves /metrics (Prometheus), /healthz and /readyz on
// addr ("127.0.0.1:9464") while the run lasts, as `conveyor run
// --http-addr` does; it overrides [global] http_addr. Without it or that
// key, nothing is served.
func WithHTTPAddr(addr string) Option { return func(o *runtime.Options) { o.HTTPAddr = addr } }

// WithHTTPListener is WithHTTPAddr on a listener the caller opened (port 0,
// say, to learn the port); the run closes it when it ends.
func WithHTTPListener(l net.Listener) Option { return func(o *runtime.Options) { o.HTTPListener = l } }

// WithMetrics registers the run's metrics (names in the README's "Operate"
// section; not the Go and process collectors) with reg as well, for an
// embedder that serves its own /metrics. They are unregistered when the
// run ends, so that runs one after another can use the same reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *runtime.Options) { o.Metrics = reg }
}

// Run runs the pipeline; see the package doc.
func Run(ctx context.Context, cfg *config.Pipeline, opts ...Option) error {
	_, err := Execute(ctx, cfg, opts...)
	return err
}

// Execute is Run that also returns the run's Summary.
func Execute(ctx context.Context, cfg *config.Pipeline, opts ...Option) (Summary, error) {
	return runtime.Run(ctx, cfg, options(opts))
}

// Validate checks cfg against the registry (functions, roles, every stage's
// config) without connecting to anything, and returns every problem at once
// as config.Errors.
func Validate(cfg *config.Pipeline, opts ...Option) error {
	_, err := runtime.Compile(cfg, options(opts).Registry)
	return err
}

// Registry is the default registry, holding the built-in functions.
func Registry() *plugin.Registry { return plugin.Default() }

func options(opts []Option) runtime.Options {
	o := runtime.Options{Registry: plugin.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}
