package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/emitter"
	"github.com/conveyor-etl/conveyor/plugin"
)

// testRegistry has a source of n records {"n":i}, an operator that fails on
// records listed in "fail", and a sink that fails records listed in "fail"
// for the first "times" attempts and remembers what it wrote.
type world struct {
	mu      sync.Mutex
	written []int
	tries   map[int]int // failed sink writes per record
	applies map[int]int // operator calls per failing record
}

type srcCfg struct {
	N     int `key:"n"`
	Batch int `key:"batch"`
}
type failCfg struct {
	Fail  []string `key:"fail"`
	Times int      `key:"times"`
	// Forever lists records failop fails on every call, whatever times says.
	Forever []string `key:"forever"`
	// Permanent marks the errors with plugin.Permanent.
	Permanent bool `key:"permanent"`
}

// err is the error a failop or flaky stage fails a record with.
func (c *failCfg) err(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if c.Permanent {
		return plugin.Permanent(err)
	}
	return err
}

func (w *world) registry() *plugin.Registry {
	reg := plugin.NewRegistry()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(reg.Register(&plugin.Spec{Name: "count", Plugin: "test", Source: plugin.NewFactory(
		func() *srcCfg { return &srcCfg{N: 10, Batch: 4} },
		func(_ context.Context, c *srcCfg, _ plugin.Env) (plugin.Source, error) {
			i := 0
			return emitter.New("count", c.Batch, 2, func(b []plugin.Record, max int) ([]plugin.Record, error) {
				for len(b) < max && i < c.N {
					b = append(b, plugin.Record{Value: []byte(fmt.Sprintf(`{"n":%d}`, i)), Offset: int64(i)})
					i++
				}
				if i >= c.N {
					return b, emitter.ErrStop
				}
				return b, nil
			}, nil), nil
		})}))
	must(reg.Register(&plugin.Spec{Name: "failop", Plugin: "test", Operator: plugin.NewFactory(
		func() *failCfg { return &failCfg{} },
		func(_ context.Context, c *failCfg, _ plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
				for i, r := range in {
					// with times > 0, a record of fail fails on its first times calls
					if bad(r, c.Forever) || (bad(r, c.Fail) && (w.applied(r) <= c.Times || c.Times == 0)) {
						fail(i, c.err("cannot handle %s", r.Value))
						continue
					}
					out = append(out, r)
				}
				return out
			}), nil
		})}))
	must(reg.Register(&plugin.Spec{Name: "flaky", Plugin: "test", Sink: plugin.NewFactory(
		func() *failCfg { return &failCfg{} },
		func(_ context.Context, c *failCfg, _ plugin.Env) (plugin.Sink, error) {
			return &flakySink{w: w, cfg: c}, nil
		})}))
	return reg
}

// applied counts an operator call on a failing record, and returns the
// calls so far.
func (w *world) applied(r plugin.Record) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.applies == nil {
		w.applies = map[int]int{}
	}
	w.applies[int(r.Offset)]++
	return w.applies[int(r.Offset)]
}

func bad(r plugin.Record, fail []string) bool {
	for _, f := range fail {
		if string(r.Value) == fmt.Sprintf(`{"n":%s}`, f) {
			return true
		}
	}
	return false
}

type flakySink struct {
	w   *world
	cfg *failCfg
}

func (s *flakySink) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	if s.w.tries == nil {
		s.w.tries = map[int]int{}
	}
	var we plugin.WriteError
	for i, r := range recs {
		if bad(r, s.cfg.Fail) && s.w.tries[int(r.Offset)] < s.cfg.Times {
			s.w.tries[int(r.Offset)]++
			we.Failed = append(we.Failed, i)
			we.Errs = append(we.Errs, s.cfg.err("broker said no"))
			continue
		}
		s.w.written = append(s.w.written, int(r.Offset))
	}
	if len(we.Failed) > 0 {
		return plugin.Done{Err: &we}
	}
	return plugin.Done{}
}
func (s *flakySink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}
func (s *flakySink) Close() error { return nil }

func pipeline(t *testing.T, text string) *config.Pipeline {
	t.Helper()
	p, err := config.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const stages = `
[[stages]]
id = "src"
function = "count"
[stages.config]
n = 10
[[stages]]
id = "op"
function = "failop"
inputs = ["src"]
[stages.config]
fail = %q
[[stages]]
id = "out"
function = "flaky"
inputs = ["op"]
[stages.config]
fail = %q
times = %d
`

func TestErrorHandling(t *testing.T) {
	dir := t.TempDir()
	dlq := filepath.Join(dir, "dlq.jsonl")
	cases := []struct {
		name       string
		opFail     string
		sinkFail   string
		times      int
		eh         string
		wantErr    string
		want       []int
		failed, dl int64
	}{
		{name: "stop on operator error", opFail: "3", eh: `strategy = "stop"`, wantErr: `stage "op" failed on record count/0@3: cannot handle {"n":3}`, failed: 1},
		{name: "continue skips and counts", opFail: "3,7", eh: `strategy = "continue"`, want: []int{0, 1, 2, 4, 5, 6, 8, 9}, failed: 2},
		{name: "retry recovers a flaky write", sinkFail: "5", times: 2, eh: "strategy = \"retry\"\nmax_retries = 3\nretry_delay_seconds = 0.01", want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "retry gives up and stops without a dead-letter queue", sinkFail: "5", times: 9, eh: "strategy = \"retry\"\nmax_retries = 2\nretry_delay_seconds = 0.01", wantErr: `stage "out" failed on record count/0@5: broker said no`, want: []int{0, 1, 2, 3, 4, 6, 7}, failed: 1},
		{name: "retry then dead-letter", sinkFail: "5", times: 9, eh: "strategy = \"retry\"\nmax_retries = 2\nretry_delay_seconds = 0.01\nbackoff = \"exponential\"\ndead_letter_queue = " + fmt.Sprintf("%q", dlq), want: []int{0, 1, 2, 3, 4, 6, 7, 8, 9}, failed: 1, dl: 1},
		{name: "continue with dead-letter on operator error", opFail: "0,9", eh: "strategy = \"continue\"\n[error_handling.dead_letter_queue]\npath = " + fmt.Sprintf("%q", dlq), want: []int{1, 2, 3, 4, 5, 6, 7, 8}, failed: 2, dl: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(dlq)
			w := &world{}
			p := pipeline(t, fmt.Sprintf(stages, tc.opFail, tc.sinkFail, tc.times)+"\n[error_handling]\n"+tc.eh)
			sum, err := Run(context.Background(), p, Options{Registry: w.registry(), DrainTimeout: 5 * time.Second})
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			// A retried record may land after records of later batches; a
			// failed batch under stop may or may not have been written.
			got := append([]int(nil), w.written...)
			sort.Ints(got)
			if tc.wantErr == "" && fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("written %v, want %v", got, tc.want)
			}
			for _, n := range got {
				if tc.wantErr != "" && (fmt.Sprint(n) == tc.opFail || fmt.Sprint(n) == tc.sinkFail) {
					t.Errorf("record %d was written although it failed", n)
				}
			}
			if sum.Failed != tc.failed || sum.DeadLettered != tc.dl {
				t.Errorf("summary %s; want failed=%d dead_lettered=%d", sum, tc.failed, tc.dl)
			}
			if tc.dl > 0 {
				checkDeadLetters(t, dlq, tc.dl)
			}
		})
	}
}

func checkDeadLetters(t *testing.T, path string, n int64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Dead letters hold the records' payloads: only their owner reads them.
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dead-letter file mode %v (%v), want -rw-------", fi.Mode().Perm(), err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if int64(len(lines)) != n {
		t.Fatalf("%d dead letters, want %d: %s", len(lines), n, raw)
	}
	for _, l := range lines {
		var e struct {
			Error, Stage, Source, Time string
			Offset                     int64
			Record                     map[string]int
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("dead letter %s: %v", l, err)
		}
		if e.Error == "" || e.Stage == "" || e.Source != "count" || e.Time == "" || e.Record["n"] != int(e.Offset) {
			t.Errorf("dead letter lacks what it should hold: %s", l)
		}
	}
}

func TestCompileReportsEverything(t *testing.T) {
	w := &world{}
	p := pipeline(t, `
[global]
plugins = ["tset"]
[[stages]]
id = "src"
function = "cuont"
[[stages]]
id = "op"
function = "failop"
inputs = ["src"]
[stages.config]
fial = "1"
[[stages]]
id = "dangling"
function = "failop"
inputs = ["op"]
`)
	_, err := Compile(p, w.registry())
	want := []string{
		`test.toml:3:1: global.plugins: unknown plugin "tset" (did you mean "test"?)`,
		`test.toml:6:1: stages[0] "src" function: unknown function "cuont" (did you mean "count"?)`,
		`test.toml:12:1: stages[1] "op" config.fial: unknown key (did you mean "fail"?)`,
		`test.toml:13:1: stages[2] "dangling": no stage reads the output of this operator: add a sink with inputs = ["dangling"]`,
	}
	for _, line := range want {
		if err == nil || !strings.Contains(err.Error(), line) {
			t.Errorf("errors:\n%v\nwant a line:\n%s", err, line)
		}
	}
}
