package engine

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyor-etl/conveyor/plugin"
)

// fmtStages fills the stages template with no failures.
func fmtStages(text string) string { return fmt.Sprintf(text, "", "", 0) }

// openSource emits nothing and keeps its channel open until Close, as a
// streaming source does; it counts the Close calls.
type openSource struct {
	out              chan *message.Message
	done             chan struct{}
	stopOnce, closed sync.Once
	closes           *atomic.Int32
}

func (s *openSource) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return s.out, nil
}
func (s *openSource) Stop()                 { s.stopOnce.Do(func() { close(s.done) }) }
func (s *openSource) Done() <-chan struct{} { return s.done }
func (s *openSource) Close() error {
	s.closes.Add(1)
	s.Stop()
	s.closed.Do(func() { close(s.out) })
	return nil
}

// The Source contract says Close is called once; the router (closing the
// handler of a source still subscribed) and the runtime (at the end of the
// run) both used to call it.
func TestSourceClosedOnce(t *testing.T) {
	w := &world{}
	reg := w.registry()
	var closes atomic.Int32
	if err := reg.Register(&plugin.Spec{Name: "counted", Plugin: "test", Source: plugin.NewFactory(
		func() *srcCfg { return &srcCfg{} },
		func(context.Context, *srcCfg, plugin.Env) (plugin.Source, error) {
			return &openSource{out: make(chan *message.Message), done: make(chan struct{}), closes: &closes}, nil
		})}); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(stages, `function = "count"`, `function = "counted"`, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, pipeline(t, fmtStages(text)), Options{Registry: reg, DrainTimeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if n := closes.Load(); n != 1 {
		t.Errorf("the source was closed %d times, want once", n)
	}
}

// A run that cannot listen on http_addr leaves nothing registered in the
// embedder's registry: a second run with the same registry must be able to
// register its metrics again.
func TestMetricsUnregisteredWhenListenFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ext := prometheus.NewRegistry()
	w := &world{}
	_, err = Run(context.Background(), pipeline(t, fmtStages(stages)), Options{Registry: w.registry(), Metrics: ext, HTTPAddr: busy.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "http_addr") {
		t.Fatalf("a run on a taken address returned %v", err)
	}
	mfs, err := ext.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		t.Errorf("metric %s stayed registered in the embedder's registry", mf.GetName())
	}
}
