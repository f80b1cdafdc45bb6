package flow_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// gatedLoader is an operator that loads (as table.join loads its table)
// until its gate opens, saying it has read 3 of 10 offsets of one
// partition; then it fails with err, or passes records on.
type gatedLoader struct {
	gate    <-chan struct{}
	err     error
	mu      sync.Mutex
	loading bool
	applied int
}

func (g *gatedLoader) Load(ctx context.Context) error {
	g.mu.Lock()
	g.loading = true
	g.mu.Unlock()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	g.loading = false
	g.mu.Unlock()
	return g.err
}

func (g *gatedLoader) Loading() plugin.Loading {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.loading {
		return plugin.Loading{Done: 10, Total: 10, What: `table topic "users"`}
	}
	return plugin.Loading{Parts: 1, Done: 3, Total: 10, What: `table topic "users"`}
}

func (g *gatedLoader) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	g.mu.Lock()
	g.applied += len(in)
	g.mu.Unlock()
	return append(out, in...)
}

func loaderRegistry(g *gatedLoader) *plugin.Registry {
	reg := plugin.Default().Clone()
	err := reg.Register(&plugin.Spec{Name: "test.load", Plugin: "test", Operator: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Operator, error) { return g, nil })})
	if err != nil {
		panic(err)
	}
	return reg
}

func loaderPipeline(t *testing.T) (*config.Pipeline, string) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(in, []byte("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Parse("load.toml", []byte(fmt.Sprintf(`
[pipeline]
name = "load"
[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = %q
[[stages]]
id = "enrich"
function = "test.load"
inputs = ["in"]
[[stages]]
id = "out"
function = "json.write"
inputs = ["enrich"]
[stages.config]
path = %q
`, in, out)))
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

// TestReadyzAndProgressWhileAnOperatorLoads runs a pipeline whose operator
// is a plugin.Loader held in its Load: /readyz answers 503 saying which
// stage loads what and how far it has got, the progress line's summary
// carries the same, and no record is applied before the load ends; then
// the run reads its input.
func TestReadyzAndProgressWhileAnOperatorLoads(t *testing.T) {
	gate := make(chan struct{})
	g := &gatedLoader{gate: gate}
	p, out := loaderPipeline(t)
	var mu sync.Mutex
	var seen []flow.StageSummary
	progress := flow.WithProgress(20*time.Millisecond, func(s flow.Summary) {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range s.Stages {
			if st.ID == "enrich" && st.Loading > 0 {
				seen = append(seen, st)
			}
		}
	})
	url, stop := startServed(t, p, flow.WithRegistry(loaderRegistry(g)), progress)
	var code int
	var body string
	want := `stage "enrich": loading table topic "users": 1 partition(s) under way, 3 of 10 offsets read`
	waitUntil(t, 10*time.Second, "/readyz to name the load", func() bool {
		code, body = get(t, url+"/readyz")
		return strings.Contains(body, want)
	})
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while loading: %d, want 503", code)
	}
	waitUntil(t, 10*time.Second, "the progress line's summary to carry the load", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0
	})
	mu.Lock()
	if s := seen[0]; s.Loading != 1 || s.Loaded != 3 || s.ToLoad != 10 || s.LoadingWhat != `table topic "users"` {
		t.Errorf("progress while loading: %+v, want loading 1, 3 of 10, table topic \"users\"", s)
	}
	mu.Unlock()
	g.mu.Lock()
	if g.applied != 0 {
		t.Errorf("%d record(s) applied before the load ended", g.applied)
	}
	g.mu.Unlock()
	close(gate)
	waitUntil(t, 10*time.Second, "the records to be applied", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.applied == 3
	})
	stop()
	if b, err := os.ReadFile(out); err != nil || strings.Count(string(b), `{"n":`) != 3 {
		t.Errorf("written %q (%v), want the 3 records", b, err)
	}
}

// TestLoadErrorFailsTheRunBeforeAnyRecord: a Loader's Load error ends the
// run at start, naming the stage, with no record read.
func TestLoadErrorFailsTheRunBeforeAnyRecord(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	g := &gatedLoader{gate: gate, err: errors.New(`table topic "users" partition 0 not read up to its end offset within load_timeout_ms (1ms)`)}
	p, out := loaderPipeline(t)
	sum, err := flow.Execute(context.Background(), p, flow.WithRegistry(loaderRegistry(g)))
	if err == nil || !strings.Contains(err.Error(), `stage "enrich" (test.load): table topic "users" partition 0 not read`) {
		t.Fatalf("run error %v, want the load's, naming the stage", err)
	}
	if sum.In != 0 || g.applied != 0 {
		t.Errorf("read %d, applied %d before the load failed, want 0", sum.In, g.applied)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("the sink wrote its file although the run failed at start")
	}
}
