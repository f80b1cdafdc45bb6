package telemetry

import (
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
)

// Run is one pipeline run's metrics and readiness.
//
// Everything is registered in the run's own registry, which /metrics
// serves together with the Go runtime and process collectors. When the
// embedder passes a registerer of its own, the run's collectors (not the
// Go and process ones, which the embedder has or not as it chooses) are
// registered there too, and unregistered by Close, so that runs one after
// another in a process do not collide.
type Run struct {
	pipeline string
	log      *zap.Logger
	own      *prometheus.Registry
	ext      prometheus.Registerer // nil when the embedder gave none

	mu       sync.Mutex
	external []prometheus.Collector // registered in ext
	stages   map[string]*Stage
	order    []*Stage

	ready  *readiness
	server *http.Server
	served chan struct{}
}

// New makes a run's telemetry. pipeline is the value of the pipeline label;
// ext, when not nil, receives the run's collectors too.
func New(pipeline string, ext prometheus.Registerer, log *zap.Logger) *Run {
	if log == nil {
		log = zap.NewNop()
	}
	r := &Run{pipeline: pipeline, log: log, own: prometheus.NewRegistry(), ext: ext, stages: map[string]*Stage{}, ready: newReadiness()}
	r.own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// AddStage makes the counters of one stage (role "source", "operator" or
// "sink") and registers them. Call it for every stage before the run
// starts, in file order.
func (r *Run) AddStage(id, function, role string) *Stage {
	s := &Stage{ID: id, Function: function, Role: role}
	reg := r.Registerer(id)
	for _, c := range s.collectors() {
		if err := reg.Register(c); err != nil {
			r.log.Warn("metric not registered", zap.String("stage", id), zap.Error(err))
		}
	}
	r.mu.Lock()
	r.stages[id] = s
	r.order = append(r.order, s)
	r.mu.Unlock()
	return s
}

// Stage returns the counters of the stage with that id, or nil. Safe on a
// nil *Run.
func (r *Run) Stage(id string) *Stage {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stages[id]
}

// Stages returns every stage's counters, in the order they were added.
func (r *Run) Stages() []*Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Stage(nil), r.order...)
}

// Registerer is what stage id registers its own metrics with (see
// plugin.Env.Metrics): the labels pipeline and stage are added. Nil on a
// nil *Run.
func (r *Run) Registerer(stage string) prometheus.Registerer {
	if r == nil {
		return nil
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{LabelPipeline: r.pipeline, LabelStage: stage}, tee{r})
}

// Gatherer is the run's registry, as /metrics serves it.
func (r *Run) Gatherer() prometheus.Gatherer { return r.own }

// tee registers in the run's registry and, when there is one, the
// embedder's.
type tee struct{ r *Run }

func (t tee) Register(c prometheus.Collector) error {
	if err := t.r.own.Register(c); err != nil {
		return err
	}
	if t.r.ext == nil {
		return nil
	}
	if err := t.r.ext.Register(c); err != nil {
		// The run goes on: /metrics still has it.
		t.r.log.Warn("metric not registered with the embedder's registerer", zap.Error(err))
		return nil
	}
	t.r.mu.Lock()
	t.r.external = append(t.r.external, c)
	t.r.mu.Unlock()
	return nil
}

func (t tee) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t tee) Unregister(c prometheus.Collector) bool {
	ok := t.r.own.Unregister(c)
	if t.r.ext != nil {
		t.r.ext.Unregister(c)
	}
	return ok
}

// Serve serves /metrics, /healthz and /readyz on l until Close.
func (r *Run) Serve(l net.Listener) {
	r.server = &http.Server{Handler: r.Handler(), ReadHeaderTimeout: 10e9}
	r.served = make(chan struct{})
	go func() {
		defer close(r.served)
		if err := r.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Warn("metrics server stopped", zap.Error(err))
		}
	}()
}

// Close stops the readiness checks and the HTTP server, and unregisters
// the run's collectors from the embedder's registerer.
func (r *Run) Close() {
	if r == nil {
		return
	}
	r.ready.stop()
	if r.server != nil {
		_ = r.server.Close()
		<-r.served
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.external {
		r.ext.Unregister(c)
	}
	r.external = nil
}
