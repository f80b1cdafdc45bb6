package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// captureSink is a plain message.Publisher, as a foreign Watermill
// Publisher would be: it keeps every message it was handed (metadata and
// records), optionally taking delay per Publish.
type captureSink struct {
	mu    sync.Mutex
	delay time.Duration
	msgs  []*message.Message
	recs  []string
}

func (s *captureSink) Publish(_ string, msgs ...*message.Message) error {
	time.Sleep(s.delay)
	for _, m := range msgs {
		if err := m.Context().Err(); err != nil {
			return fmt.Errorf("publish with a context already done: %w", err)
		}
		b, err := plugin.DecodeBatch(m)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		for _, r := range b.Records {
			s.recs = append(s.recs, string(r.Value))
		}
		s.mu.Unlock()
	}
	return nil
}

func (s *captureSink) Close() error { return nil }

// middlewarePipeline runs json.read over n records {"i":0..n-1} in batches
// of batch into test.capture (after test.panic, which panics on the record
// whose i is panicOn, when panicOn >= 0), with mw.
func middlewarePipeline(t *testing.T, dir string, n, batch, panicOn int, sink *captureSink, extra string, mw ...message.HandlerMiddleware) (flow.Summary, error) {
	t.Helper()
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "{\"i\":%d}\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`
[pipeline]
name = "mw"
[[stages]]
id = "read"
function = "json.read"
inputs = []
[stages.config]
path = "in.jsonl"
batch_size = %d
[[stages]]
id = "boom"
function = "test.panic"
inputs = ["read"]
[stages.config]
on = %d
[[stages]]
id = "out"
function = "test.capture"
inputs = ["boom"]
%s`, batch, panicOn, extra)
	p, err := config.Load(writePipeline(t, dir, text))
	if err != nil {
		t.Fatal(err)
	}
	reg := plugin.Default().Clone()
	type panicCfg struct {
		On int `key:"on"`
	}
	must(t, reg.Register(&plugin.Spec{Name: "test.panic", Plugin: "test", Operator: plugin.NewFactory(
		func() *panicCfg { return &panicCfg{On: -1} },
		func(_ context.Context, c *panicCfg, _ plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
				for _, r := range in {
					if c.On >= 0 && string(r.Value) == fmt.Sprintf(`{"i":%d}`, c.On) {
						panic("test.panic: record " + string(r.Value))
					}
					out = append(out, r)
				}
				return out
			}), nil
		})}))
	must(t, reg.Register(&plugin.Spec{Name: "test.capture", Plugin: "test", Sink: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return sink, nil })}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return flow.Execute(ctx, p, flow.WithRegistry(reg), flow.WithMiddleware(mw...))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantRecords checks that sink got {"i":0..n-1} but skip, in order.
func wantRecords(t *testing.T, sink *captureSink, n int, skip ...int) {
	t.Helper()
	var want []string
	for i := range n {
		if !slicesContains(skip, i) {
			want = append(want, fmt.Sprintf(`{"i":%d}`, i))
		}
	}
	if strings.Join(sink.recs, "\n") != strings.Join(want, "\n") {
		t.Errorf("the sink got %d records:\n%s\nwant %d", len(sink.recs), strings.Join(sink.recs, "\n"), len(want))
	}
}

func slicesContains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Watermill's Throttle holds the handler of each batch message back: 8
// batches at one per 50 ms take at least 350 ms, and every record arrives
// in order.
func TestMiddlewareThrottle(t *testing.T) {
	sink := &captureSink{}
	start := time.Now()
	sum, err := middlewarePipeline(t, t.TempDir(), 40, 5, -1, sink, "", middleware.NewThrottle(1, 50*time.Millisecond).Middleware)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 350*time.Millisecond {
		t.Errorf("8 batches took %v under a throttle of one per 50ms", took)
	}
	if sum.In != 40 || sum.Out != 40 || len(sink.msgs) != 8 {
		t.Errorf("in=%d out=%d messages=%d, want 40, 40, 8", sum.In, sum.Out, len(sink.msgs))
	}
	wantRecords(t, sink, 40)
}

// A correlation id set on a source's message reaches the sink's Publisher
// on the message the handler produced, through Watermill's CorrelationID.
func TestMiddlewareCorrelationID(t *testing.T) {
	sink := &captureSink{}
	setID := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			middleware.SetCorrelationID("corr-"+msg.UUID, msg)
			return h(msg)
		}
	}
	if _, err := middlewarePipeline(t, t.TempDir(), 20, 5, -1, sink, "", setID, middleware.CorrelationID); err != nil {
		t.Fatal(err)
	}
	if len(sink.msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(sink.msgs))
	}
	for _, m := range sink.msgs {
		if got := middleware.MessageCorrelationID(m); got != "corr-"+m.UUID {
			t.Errorf("message %s: correlation id %q, want %q", m.UUID, got, "corr-"+m.UUID)
		}
	}
	wantRecords(t, sink, 20)
}

// Watermill's Timeout bounds the handler, not the writes after it: a sink
// slower than the timeout still gets every record, with a live context.
func TestMiddlewareTimeoutLeavesWritesAlone(t *testing.T) {
	sink := &captureSink{delay: 60 * time.Millisecond}
	sum, err := middlewarePipeline(t, t.TempDir(), 20, 5, -1, sink, "", middleware.Timeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Out != 20 {
		t.Errorf("out=%d, want 20", sum.Out)
	}
	wantRecords(t, sink, 20)
}

// With Recoverer, a panicking operator still fails only its record, under
// [error_handling]: the record goes to the dead-letter file and the records
// around it are written.
func TestMiddlewareRecovererOperatorPanic(t *testing.T) {
	sink := &captureSink{}
	dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
	eh := fmt.Sprintf("[error_handling]\nstrategy = \"continue\"\ndead_letter_queue = { path = %q }\n", dlq)
	sum, err := middlewarePipeline(t, t.TempDir(), 20, 5, 7, sink, eh, middleware.Recoverer)
	if err != nil {
		t.Fatal(err)
	}
	wantRecords(t, sink, 20, 7)
	data, _ := os.ReadFile(dlq)
	var entry struct {
		Error  string          `json:"error"`
		Stage  string          `json:"stage"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal(data, &entry); err != nil || entry.Stage != "boom" || string(entry.Record) != `{"i":7}` || !strings.Contains(entry.Error, "test.panic") {
		t.Errorf("dead letter %q (%v), want record {\"i\":7} from stage boom with the panic", data, err)
	}
	if sum.DeadLettered != 1 || sum.Out != 19 {
		t.Errorf("dead-lettered=%d out=%d, want 1 and 19", sum.DeadLettered, sum.Out)
	}
}

// A panic in a middleware of the user's own is turned into an error by
// Recoverer: the batch is nacked and the run stops with the panic, without
// crashing the process; the batches before it were written.
func TestMiddlewareRecovererMiddlewarePanic(t *testing.T) {
	sink := &captureSink{}
	panicky := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			b, _ := plugin.DecodeBatch(msg)
			if len(b.Records) > 0 && b.Records[0].Offset >= 10 {
				panic("middleware panic at " + msg.UUID)
			}
			return h(msg)
		}
	}
	_, err := middlewarePipeline(t, t.TempDir(), 20, 5, -1, sink, "", middleware.Recoverer, panicky)
	if err == nil || !strings.Contains(err.Error(), "middleware panic") {
		t.Fatalf("run error %v, want the middleware's panic", err)
	}
	// The runtime recovers panics too (outermost): only Recoverer's own
	// error type shows that the user's middleware ran and did the work.
	if !errors.As(err, new(middleware.RecoveredPanicError)) {
		t.Errorf("run error %v does not come from the Recoverer middleware", err)
	}
	if len(sink.recs) < 10 {
		t.Errorf("%d records written, want at least the 10 before the panic", len(sink.recs))
	}
}

// closingOp counts its Close calls.
type closingOp struct{ closed *atomic.Int32 }

func (o closingOp) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	return append(out, in...)
}
func (o closingOp) Close() error { o.closed.Add(1); return nil }

// An operator that holds resources (an io.Closer) is closed once, when the
// run ends, and got its Build ctx.
func TestOperatorClosedOnceAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte("{\"i\":1}\n{\"i\":2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var closed atomic.Int32
	var gotCtx atomic.Bool
	reg := plugin.Default().Clone()
	must(t, reg.Register(&plugin.Spec{Name: "test.closer", Plugin: "test", Operator: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(ctx context.Context, _ *struct{}, _ plugin.Env) (plugin.Operator, error) {
			gotCtx.Store(ctx != nil && ctx.Err() == nil)
			return closingOp{&closed}, nil
		})}))
	sink := &captureSink{}
	must(t, reg.Register(&plugin.Spec{Name: "test.capture", Plugin: "test", Sink: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return sink, nil })}))
	p, err := config.Load(writePipeline(t, dir, `
[[stages]]
id = "read"
function = "json.read"
inputs = []
[stages.config]
path = "in.jsonl"
[[stages]]
id = "op"
function = "test.closer"
inputs = ["read"]
[[stages]]
id = "out"
function = "test.capture"
inputs = ["op"]
`))
	must(t, err)
	if _, err := flow.Execute(context.Background(), p, flow.WithRegistry(reg)); err != nil {
		t.Fatal(err)
	}
	if n := closed.Load(); n != 1 || !gotCtx.Load() {
		t.Errorf("operator closed %d times (want 1), live build ctx %v", n, gotCtx.Load())
	}
	if len(sink.recs) != 2 {
		t.Errorf("%d records out, want 2", len(sink.recs))
	}
}

// A relative dead-letter path is resolved from the pipeline file's
// directory, as every other path in the file is (it was resolved from the
// working directory before).
func TestDeadLetterPathRelativeToPipeline(t *testing.T) {
	sink := &captureSink{}
	eh := "[error_handling]\nstrategy = \"continue\"\ndead_letter_queue = { path = \"dead/letters.jsonl\" }\n"
	dir := t.TempDir()
	if _, err := middlewarePipeline(t, dir, 10, 5, 3, sink, eh); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll("dead") })
	if _, err := os.Stat(filepath.Join("dead", "letters.jsonl")); err == nil {
		t.Error("the dead-letter file was written under the working directory")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "dead", "letters.jsonl")); err != nil || !strings.Contains(string(data), `"record":{"i":3}`) {
		t.Errorf("dead-letter file beside the pipeline: %q, %v", data, err)
	}
	wantRecords(t, sink, 10, 3)
}

// afterCore records log entries written after closed is set.
type afterCore struct {
	zapcore.LevelEnabler
	closed *atomic.Bool
	late   *atomic.Int32
	msgs   chan string
}

func (c afterCore) With([]zapcore.Field) zapcore.Core { return c }
func (c afterCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return ce.AddCore(e, c)
}
func (c afterCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	if c.closed.Load() {
		c.late.Add(1)
		select {
		case c.msgs <- e.Message:
		default:
		}
	}
	return nil
}
func (c afterCore) Sync() error { return nil }

// Nothing of a run writes to the caller's logger once Execute has returned
// (Watermill's router logged as Run returned, racing a caller that reads
// its log buffer: TestRunFlagsAfterFile under -race in CI).
func TestNoLogsAfterExecuteReturns(t *testing.T) {
	for range 5 {
		var closed atomic.Bool
		var late atomic.Int32
		core := afterCore{LevelEnabler: zapcore.DebugLevel, closed: &closed, late: &late, msgs: make(chan string, 10)}
		sink := &captureSink{}
		dir := t.TempDir()
		var in strings.Builder
		for i := range 50 {
			fmt.Fprintf(&in, "{\"i\":%d}\n", i)
		}
		must(t, os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(in.String()), 0o644))
		reg := plugin.Default().Clone()
		must(t, reg.Register(&plugin.Spec{Name: "test.capture", Plugin: "test", Sink: plugin.NewFactory(
			func() *struct{} { return &struct{}{} },
			func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return sink, nil })}))
		p, err := config.Load(writePipeline(t, dir, "[[stages]]\nid = \"read\"\nfunction = \"json.read\"\ninputs = []\n[stages.config]\npath = \"in.jsonl\"\n"+
			"[[stages]]\nid = \"out\"\nfunction = \"test.capture\"\ninputs = [\"read\"]\n"))
		must(t, err)
		if _, err := flow.Execute(context.Background(), p, flow.WithRegistry(reg), flow.WithLogger(zap.New(core))); err != nil {
			t.Fatal(err)
		}
		closed.Store(true)
		time.Sleep(100 * time.Millisecond)
		if n := late.Load(); n > 0 {
			t.Fatalf("%d log entries after Execute returned, first %q", n, <-core.msgs)
		}
	}
}
