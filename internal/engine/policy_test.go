package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/conveyor-etl/conveyor/plugin"
)

// A permanent error is not retried: the record fails after one attempt and
// goes to the dead-letter queue; a transient one is tried max_retries+1
// times. Both for an operator (Apply calls) and a sink (Write calls).
func TestRetrySkipsPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		op, sink  string // the failing record of each
		permanent bool
		attempts  int
	}{
		{"operator, transient", "4", "", false, 4},
		{"operator, permanent", "4", "", true, 1},
		{"sink, transient", "", "4", false, 4},
		{"sink, permanent", "", "4", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
			text := fmt.Sprintf(stages, tc.op, tc.sink, 99) +
				fmt.Sprintf("permanent = %v\n", tc.permanent) + // the sink's; the operator's below
				fmt.Sprintf("\n[error_handling]\nstrategy = \"retry\"\nmax_retries = 3\nretry_delay_seconds = 0.001\ndead_letter_queue = %q\n", dlq)
			if tc.op != "" {
				text = strings.Replace(text, "fail = \"4\"\n", "fail = \"4\"\npermanent = "+fmt.Sprint(tc.permanent)+"\n", 1)
			}
			sum, err := Run(context.Background(), pipeline(t, text), Options{Registry: w.registry(), DrainTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			got := w.applies[4]
			if tc.sink != "" {
				got = w.tries[4]
			}
			if got != tc.attempts {
				t.Errorf("record 4 was tried %d times, want %d", got, tc.attempts)
			}
			if sum.Failed != 1 || sum.DeadLettered != 1 || sum.Out != 9 {
				t.Errorf("summary %s; want out=9 failed=1 dead_lettered=1", sum)
			}
			checkDeadLetters(t, dlq, 1)
		})
	}
}

// Under stop, the record that stopped the run is counted as failed, for an
// operator and for a sink.
func TestStopCountsTheFailedRecord(t *testing.T) {
	for _, tc := range []struct{ op, sink string }{{"6", ""}, {"", "6"}} {
		w := &world{}
		p := pipeline(t, fmt.Sprintf(stages, tc.op, tc.sink, 99)+"\n[error_handling]\nstrategy = \"stop\"\n")
		sum, err := Run(context.Background(), p, Options{Registry: w.registry(), DrainTimeout: 5 * time.Second})
		if err == nil {
			t.Fatal("the run did not stop")
		}
		if sum.Failed != 1 {
			t.Errorf("op %q sink %q: summary %s after %v; want failed=1", tc.op, tc.sink, sum, err)
		}
	}
}

// panicky returns w's registry plus "panicop", registered in a clone as an
// embedding service would add its own function: an operator that panics on
// the records listed in "fail" and passes the others.
func (w *world) panicky(t *testing.T) *plugin.Registry {
	t.Helper()
	reg := w.registry().Clone()
	err := reg.Register(&plugin.Spec{Name: "panicop", Plugin: "test", Operator: plugin.NewFactory(
		func() *failCfg { return &failCfg{} },
		func(_ context.Context, c *failCfg, _ plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
				for _, r := range in {
					if bad(r, c.Fail) {
						w.applied(r)
						var m map[string]int
						m[string(r.Value)]++ // a nil map: a real bug, not a panic(...) call
					}
					out = append(out, r)
				}
				return out
			}), nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// A panic in an operator fails only the record it panicked on: the others
// of the batch go on, the summary counts one failure, the stack is logged,
// and the process lives. Under stop, the run ends with an error naming the
// stage, the record and the panic.
func TestOperatorPanicFailsOnlyItsRecord(t *testing.T) {
	// the stages of TestErrorHandling, with panicop in place of failop
	text := strings.Replace(fmt.Sprintf(stages, "5", "", 0), `"failop"`, `"panicop"`, 1) + "\n[error_handling]\n"
	for _, tc := range []struct {
		strategy string
		wantErr  string
		want     []int
	}{
		{strategy: `strategy = "continue"`, want: []int{0, 1, 2, 3, 4, 6, 7, 8, 9}},
		{strategy: "strategy = \"retry\"\nretry_delay_seconds = 0.001\ndead_letter_queue = %q", want: []int{0, 1, 2, 3, 4, 6, 7, 8, 9}},
		{strategy: `strategy = "stop"`, wantErr: `stage "op" failed on record count/0@5: panic: assignment to entry in nil map`},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			w := &world{}
			eh := tc.strategy
			if strings.Contains(eh, "%q") {
				eh = fmt.Sprintf(eh, filepath.Join(t.TempDir(), "dlq.jsonl"))
			}
			core, logs := observer.New(zapcore.DebugLevel)
			sum, err := Run(context.Background(), pipeline(t, text+eh), Options{Registry: w.panicky(t), Logger: zap.New(core), DrainTimeout: 5 * time.Second})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got := append([]int(nil), w.written...)
			sort.Ints(got)
			if tc.wantErr == "" && fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("written %v, want %v", got, tc.want)
			}
			if sum.Failed != 1 {
				t.Errorf("summary %s; want failed=1", sum)
			}
			if w.applies[5] > 2 {
				t.Errorf("the panicking record was applied %d times: a panic is permanent, once in the batch and once alone is enough", w.applies[5])
			}
			stacks := 0
			for _, e := range logs.All() {
				if s, ok := e.ContextMap()["stack"].(string); ok && strings.Contains(s, "policy_test.go") {
					stacks++
					if e.ContextMap()["stage"] != "op" {
						t.Errorf("the panic's log entry does not name the stage: %v", e.ContextMap())
					}
				}
			}
			if stacks == 0 {
				t.Errorf("no log entry holds the panic's stack")
			}
		})
	}
}

// A panic in a sink's Write or Wait cannot be pinned on a record, and may
// have left the sink half-done: it stops the run, whatever the strategy,
// with an error naming the stage and the panic, and the process lives.
func TestSinkPanicStopsTheRun(t *testing.T) {
	for _, where := range []string{"write", "wait"} {
		t.Run(where, func(t *testing.T) {
			w := &world{}
			reg := w.registry().Clone()
			if err := reg.Register(&plugin.Spec{Name: "panicsink", Plugin: "test", Sink: plugin.NewFactory(
				func() *struct{} { return &struct{}{} },
				func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) {
					return &panicSink{where: where}, nil
				})}); err != nil {
				t.Fatal(err)
			}
			p := pipeline(t, `
[[stages]]
id = "src"
function = "count"
[[stages]]
id = "sink"
function = "panicsink"
inputs = ["src"]
[error_handling]
strategy = "continue"
`)
			core, logs := observer.New(zapcore.DebugLevel)
			sum, err := Run(context.Background(), p, Options{Registry: reg, Logger: zap.New(core), DrainTimeout: 5 * time.Second})
			if err == nil || !strings.Contains(err.Error(), `stage "sink"`) || !strings.Contains(err.Error(), "panic: sink broke in "+where) {
				t.Fatalf("error %v; want one naming the stage and the panic", err)
			}
			if sum.Failed == 0 {
				t.Errorf("summary %s; want the records of the failed write counted", sum)
			}
			if logs.FilterField(zap.String("stage", "sink")).FilterFieldKey("stack").Len() == 0 {
				t.Errorf("no log entry with the panic's stack and the stage")
			}
		})
	}
}

type panicSink struct{ where string }

func (s *panicSink) Send(context.Context, []plugin.Record) plugin.Pending {
	if s.where == "write" {
		panic("sink broke in write")
	}
	return s
}
func (s *panicSink) Wait(context.Context) error { panic("sink broke in wait") }
func (s *panicSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}
func (s *panicSink) Close() error { return nil }

// A record waiting between retries when a stop's drain times out is cut
// off: not dead-lettered, not counted failed, and the run says what was
// cut off. (It used to be dead-lettered after one try, and committed.)
func TestStopCutsOffRecordWaitingForRetry(t *testing.T) {
	for _, where := range []string{"operator", "sink"} {
		t.Run(where, func(t *testing.T) {
			w := &world{}
			dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
			op, sink := "4", ""
			if where == "sink" {
				op, sink = "", "4"
			}
			text := fmt.Sprintf(stages, op, sink, 1000) +
				fmt.Sprintf("\n[error_handling]\nstrategy = \"retry\"\nmax_retries = 100\nretry_delay_seconds = 0.05\ndead_letter_queue = %q\n", dlq)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			sum, err := Run(ctx, pipeline(t, text), Options{Registry: w.registry(), DrainTimeout: 400 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), "cut off") {
				t.Errorf("run error %v, want the stop's cut-off", err)
			}
			if sum.Failed != 0 || sum.DeadLettered != 0 {
				t.Errorf("summary %s; a cut-off record was counted", sum)
			}
			if raw, err := os.ReadFile(dlq); err == nil && len(raw) > 0 {
				t.Errorf("a cut-off record was dead-lettered: %s", raw)
			}
		})
	}
}
