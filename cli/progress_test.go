package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// TestProgressRender: the line shows records in and out, the rate since
// the last draw, the lag when known, an ETA when the run is bounded, and
// the time so far.
func TestProgressRender(t *testing.T) {
	prev := flow.Summary{In: 1000, Out: 900, InBytes: 100_000, Elapsed: 4 * time.Second}
	now := flow.Summary{In: 3000, Out: 2950, InBytes: 300_000, Elapsed: 5 * time.Second}
	for _, tc := range []struct {
		name   string
		bounds bounds
		lag    int64
		want   string
	}{
		{"streaming", bounds{}, -1, "in 3,000  out 2,950  2,000 rec/s  0:05"},
		{"with lag", bounds{}, 1_234_567, "in 3,000  out 2,950  2,000 rec/s  lag 1,234,567  0:05"},
		{"max_messages", bounds{records: 10_000}, 7000, "in 3,000  out 2,950  2,000 rec/s  lag 7,000  ETA 0:04  0:05"},
		// 1,500,000 bytes at 100 bytes a record: 12,000 records left at 2,000/s.
		{"file size", bounds{bytes: 1_500_000}, -1, "in 3,000  out 2,950  2,000 rec/s  ETA 0:06  0:05"},
		// 7,203,000 to read in all (the lag first seen plus what was read
		// by then), 3,000 read: 7,200,000 left at 2,000/s, whatever the
		// lag of the committed offsets says now.
		{"until end", bounds{lagEnds: true}, 9_000_000, "in 3,000  out 2,950  2,000 rec/s  lag 9,000,000  ETA 1:00:00  0:05"},
		{"until end, lag unknown", bounds{lagEnds: true}, -1, "in 3,000  out 2,950  2,000 rec/s  0:05"},
	} {
		p := &progress{bounds: tc.bounds}
		if tc.lag >= 0 {
			p.toRead.Store(7_203_000)
		}
		if got := p.render(now, prev, tc.lag); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// Nothing read yet: no rate to divide by, so no ETA.
	p := &progress{bounds: bounds{records: 1000}}
	if got, want := p.render(flow.Summary{Elapsed: time.Second}, flow.Summary{}, -1), "in 0  out 0  0 rec/s  0:01"; got != want {
		t.Errorf("idle: got %q, want %q", got, want)
	}
}

// TestProgressDrawAndLogs: each update redraws the line in place; a log
// entry first clears it, so the entry starts on a clean line; close clears
// it for the summary.
func TestProgressDrawAndLogs(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, stopLg: func() {}}
	p.lag.Store(-1)
	p.update(flow.Summary{In: 10, Out: 10, Elapsed: time.Second})
	p.Write([]byte("log entry\n"))
	p.Write([]byte("another\n"))
	p.update(flow.Summary{In: 30, Out: 25, Elapsed: 2 * time.Second})
	p.close()
	want := "\rin 10  out 10  10 rec/s  0:01\x1b[K" + "\r\x1b[Klog entry\n" + "another\n" +
		"\rin 30  out 25  20 rec/s  0:02\x1b[K" + "\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestProgressBounds: a json.read run is bounded by its file's size; a
// kafka one by max_messages, or by the lag with until = "end".
func TestProgressBounds(t *testing.T) {
	dir := t.TempDir()
	in, _ := filepath.Abs("../examples/data/events.json")
	fi, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(text string) *config.Pipeline {
		path := filepath.Join(dir, "p.toml")
		os.WriteFile(path, []byte(text), 0o600)
		p, err := testApp().load(path)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := testApp().newProgress(parse(copyPipeline(t, filepath.Join(dir, "out.json"))), &bytes.Buffer{})
	p.close()
	if p.bounds != (bounds{bytes: fi.Size()}) {
		t.Errorf("json.read: bounds %+v, want the file's %d bytes", p.bounds, fi.Size())
	}
	kafkaPipeline := func(extra string) string {
		return `
[[stages]]
id = "in"
function = "kafka"
inputs = []
[stages.config]
brokers = "127.0.0.1:1"
topic = "t"
group_id = "g"
dial_timeout_ms = 100
` + extra + `
[[stages]]
id = "out"
function = "stdout.write"
inputs = ["in"]
`
	}
	for _, tc := range []struct {
		extra string
		want  bounds
	}{
		{"", bounds{records: 1000}},
		{"max_messages = 250", bounds{records: 250}},
		{`until = "end"`, bounds{lagEnds: true}},
		{"max_messages = 0", bounds{}},
	} {
		p := testApp().newProgress(parse(kafkaPipeline(tc.extra)), &bytes.Buffer{})
		p.close()
		if p.bounds != tc.want {
			t.Errorf("kafka %q: bounds %+v, want %+v", tc.extra, p.bounds, tc.want)
		}
	}
}

// TestRunNoProgressOffTerminal: a run whose stderr is not a terminal
// prints no progress: no carriage return, no escape sequence.
func TestRunNoProgressOffTerminal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.toml")
	if err := os.WriteFile(path, []byte(copyPipeline(t, filepath.Join(dir, "out.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	if code := run([]string{"run", path, "--log-format", "console"}, &stdout, f); code != 0 {
		t.Fatalf("exit %d", code)
	}
	data, _ := os.ReadFile(f.Name())
	if bytes.ContainsAny(data, "\r\x1b") || !strings.Contains(string(data), "conveyor: copy: records in=") {
		t.Errorf("stderr to a file holds progress or colour bytes, or no summary:\n%q", data)
	}
}

// TestProgressShowsARestore: while a stateful stage restores its state,
// the line says which stage and how far it is.
func TestProgressShowsARestore(t *testing.T) {
	p := &progress{}
	s := flow.Summary{Elapsed: 2 * time.Second, Stages: []flow.StageSummary{{ID: "orders"},
		{ID: "per_minute", Restoring: 2, Restored: 250_000, ToRestore: 1_000_000}}}
	if got, want := p.render(s, flow.Summary{}, -1), "in 0  out 0  0 rec/s  restoring per_minute: 250,000/1,000,000  0:02"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestProgressShowsATableLoad: while table.join loads its table, the
// line says so and how far it has got, as for a restore.
func TestProgressShowsATableLoad(t *testing.T) {
	p := &progress{}
	s := flow.Summary{Elapsed: 3 * time.Second, Stages: []flow.StageSummary{{ID: "orders"},
		{ID: "enrich", Loading: 3, Loaded: 40_000, ToLoad: 100_000, LoadingWhat: `table topic "users"`}}}
	if got, want := p.render(s, flow.Summary{}, -1), "in 0  out 0  0 rec/s  loading enrich: 40,000/100,000  0:03"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
