package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/internal/emitter"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

// filterPipeline reads n records {"n":i} (a source that never ends when
// source is "ticks") through a filter stage "f" into the flaky sink.
func filterPipeline(t *testing.T, source, column, op, value string) string {
	t.Helper()
	return fmt.Sprintf(`
[[stages]]
id = "src"
function = %q
[[stages]]
id = "f"
function = "filter.apply"
inputs = ["src"]
[stages.config]
column = %q
operator = %q
value = %s
[[stages]]
id = "out"
function = "flaky"
inputs = ["f"]
`, source, column, op, value)
}

// reportRegistry is the test registry with filter.apply and "ticks", a
// source that emits {"n":i} every millisecond until stopped.
func (w *world) reportRegistry(t *testing.T) *plugin.Registry {
	reg := w.registry()
	if err := reg.Register(operators.FilterSpec()); err != nil {
		t.Fatal(err)
	}
	err := reg.Register(&plugin.Spec{Name: "ticks", Plugin: "test", Source: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Source, error) {
			i := 0
			return emitter.New("ticks", 1, 2, func(b []plugin.Record, _ int) ([]plugin.Record, error) {
				time.Sleep(time.Millisecond)
				i++
				return append(b, plugin.Record{Value: []byte(fmt.Sprintf(`{"n":%d}`, i)), Offset: int64(i)}), nil
			}, nil), nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// runObserved runs a bounded pipeline with its log observed.
func runObserved(t *testing.T, text string) (*observer.ObservedLogs, *world) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	w := &world{}
	_, err := Run(context.Background(), pipeline(t, text), Options{Registry: w.reportRegistry(t), Logger: zap.New(core), DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return logs, w
}

// filterWarnings are the warnings logged about stage "f".
func filterWarnings(logs *observer.ObservedLogs) []observer.LoggedEntry {
	return logs.FilterLevelExact(zapcore.WarnLevel).FilterField(zap.String("stage", "f")).All()
}

// checkCounts checks the end-of-run line of the filter's counts.
func checkCounts(t *testing.T, logs *observer.ObservedLogs, want map[string]int64) {
	t.Helper()
	lines := logs.FilterMessage("filter counts").FilterField(zap.String("stage", "f")).All()
	if len(lines) != 1 {
		t.Fatalf("%d filter count lines, want 1: %v", len(lines), logs.All())
	}
	got := lines[0].ContextMap()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("filter counts %v; want %s=%d", got, k, v)
		}
	}
}

func TestFilterReportWarnsOnMissingColumn(t *testing.T) {
	logs, w := runObserved(t, filterPipeline(t, "count", "amout", ">=", "5"))
	warns := filterWarnings(logs)
	if len(warns) != 1 {
		t.Fatalf("%d warnings about stage f, want 1: %v", len(warns), logs.All())
	}
	if m := warns[0].ContextMap(); m["column"] != "amout" || m["seen"] != int64(10) || m["final"] != true {
		t.Errorf("warning %q %v; want column amout, seen 10, final", warns[0].Message, m)
	}
	checkCounts(t, logs, map[string]int64{"seen": 10, "passed": 0, "missing": 10, "type_mismatch": 0})
	if len(w.written) != 0 {
		t.Errorf("written %v", w.written)
	}
}

func TestFilterReportWarnsOnTypeMismatch(t *testing.T) {
	logs, _ := runObserved(t, filterPipeline(t, "count", "n", ">=", `"abc"`))
	warns := filterWarnings(logs)
	if len(warns) != 1 {
		t.Fatalf("%d warnings about stage f, want 1: %v", len(warns), logs.All())
	}
	if m := warns[0].ContextMap(); m["column"] != "n" || m["value"] != "abc" || m["type_mismatch"] != int64(10) {
		t.Errorf("warning %q %v; want column n, value abc, type_mismatch 10", warns[0].Message, m)
	}
	checkCounts(t, logs, map[string]int64{"seen": 10, "passed": 0, "missing": 0, "type_mismatch": 10})
}

func TestFilterReportQuietWhenMatching(t *testing.T) {
	logs, w := runObserved(t, filterPipeline(t, "count", "n", ">=", `"5"`))
	if warns := filterWarnings(logs); len(warns) != 0 {
		t.Errorf("warnings about a filter that matches: %v", warns)
	}
	checkCounts(t, logs, map[string]int64{"seen": 10, "passed": 5, "missing": 0, "type_mismatch": 0})
	if len(w.written) != 5 {
		t.Errorf("written %v, want the five records n >= 5", w.written)
	}
}

// TestFilterReportWarnsWhileStreaming checks the periodic report: a source
// that never ends gets the warning while it runs, before it is stopped.
func TestFilterReportWarnsWhileStreaming(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	w := &world{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, pipeline(t, filterPipeline(t, "ticks", "amout", "==", "1")),
			Options{Registry: w.reportRegistry(t), Logger: zap.New(core), DrainTimeout: 5 * time.Second, ReportInterval: 20 * time.Millisecond})
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for len(filterWarnings(logs)) < 2 {
		select {
		case err := <-done:
			t.Fatalf("run ended (%v) before two periodic warnings: %v", err, logs.All())
		case <-deadline:
			t.Fatalf("no periodic warnings within 10s: %v", logs.All())
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, e := range filterWarnings(logs) {
		if m := e.ContextMap(); m["final"] != false || m["column"] != "amout" {
			t.Errorf("periodic warning %q %v; want final false, column amout", e.Message, m)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("filter counts").FilterField(zap.String("stage", "f")).Len(); n != 1 {
		t.Errorf("%d end-of-run count lines, want 1", n)
	}
}
