package operators

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// twoPass hides window.aggregate's ProcessTimed, so that the state runtime
// calls EventTime then Process, as behind a repartition topic.
type twoPass struct{ plugin.Processor }

// windowRun is what a run of window.aggregate over records gave: the
// emitted records, then the failed and late records, in order.
func windowRun(t *testing.T, proc plugin.Processor, values []string, clocked bool) []string {
	t.Helper()
	st := state.New("w", proc, nil)
	if clocked {
		st.WithClock(func(int32) state.Clock { return &lagClock{wm: math.MinInt64} })
	}
	var out []string
	for i := 0; i < len(values); i += 7 {
		var b plugin.Batch
		for j := i; j < min(i+7, len(values)); j++ {
			b.Records = append(b.Records, plugin.Record{Value: []byte(values[j]), Offset: int64(j)})
		}
		res, err := st.Apply(context.Background(), b, func(k int, err error) { out = append(out, fmt.Sprintf("failed %d: %v", i+k, err)) })
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Pending.Write(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Out {
			out = append(out, string(r.Value))
		}
		for _, k := range res.Late {
			out = append(out, fmt.Sprintf("late %d", i+k))
		}
	}
	end, err := st.End()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range end {
		for _, r := range b.Records {
			out = append(out, string(r.Value))
		}
	}
	return out
}

// lagClock is a Clock whose watermark trails the largest event time seen
// by 20 s, and what Process sees by 10 s: a stand-in for the repartition
// topic's.
type lagClock struct{ max, wm int64 }

func (c *lagClock) Take(plugin.Record, int64) state.Taken { return state.TakeRecord }
func (c *lagClock) Observe(_ plugin.Record, t, _ int64) int64 {
	c.max = max(c.max, t)
	return c.max - 10_000
}
func (c *lagClock) Advance(int64) int64 {
	c.wm = max(c.wm, c.max-20_000)
	return c.wm
}
func (c *lagClock) Checkpoint(dst []byte) []byte { return dst }
func (c *lagClock) Restore([]byte, int64) error  { return nil }

// window.aggregate reads a record once for its event time and its
// aggregates (ProcessTimed) and gives exactly what EventTime then Process
// give: the same windows, the same failed and late records, for every
// kind of window and every function, over records with a bad or missing
// time, missing and non-numeric values, out-of-order and late ones.
func TestWindowAggregateOnePassIsEventTimeThenProcess(t *testing.T) {
	var values []string
	base := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC).UnixMilli()
	for i := range 400 {
		ts := base + int64(i)*1500
		switch {
		case i%17 == 5:
			ts -= 8000 // out of order, within grace
		case i%53 == 7:
			ts -= 300_000 // late
		}
		amount := fmt.Sprintf("%d.%02d", i%40, i%100)
		switch i % 23 {
		case 3:
			amount = `"7.5"`
		case 4:
			amount = `"n/a"`
		case 5:
			amount = "null"
		}
		rec := fmt.Sprintf(`{"country":"c%d","user":"u%d","amount":%s,"ts":%d}`, i%3, i%11, amount, ts)
		switch i % 61 {
		case 9:
			rec = `{"country":"c1","amount":1,"ts":"yesterday"}`
		case 10:
			rec = `{"country":"c2","amount":2}`
		case 11:
			rec = fmt.Sprintf(`{"c\u006funtry":"c2","amount":3,"ts":"%s"}`, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano))
		}
		values = append(values, rec)
	}
	aggs := map[string]string{"n": "count()", "sum": "sum(amount)", "max": "max(amount)", "first": "first(amount)",
		"last": "last(user)", "users": "count_distinct(user)", "avg": "avg(amount)", "min": "min(amount)", "with": "count(amount)"}
	for _, c := range []*WindowAggregateConfig{
		{Window: "tumbling", Size: time.Minute, Grace: 10 * time.Second},
		{Window: "hopping", Size: time.Minute, Advance: 20 * time.Second, Grace: 10 * time.Second},
		{Window: "session", Gap: 5 * time.Second, Grace: 10 * time.Second},
		{Window: "none", Emit: "update"},
	} {
		t.Run(c.Window, func(t *testing.T) {
			c.GroupBy, c.TimeField, c.Aggregates, c.Late = []string{"country"}, "ts", aggs, "drop"
			if c.Emit == "" {
				c.Emit = "final"
			}
			one, err := NewWindowAggregate(c)
			if err != nil {
				t.Fatal(err)
			}
			two, _ := NewWindowAggregate(c)
			for _, clocked := range []bool{false, true} {
				got, want := windowRun(t, one, values, clocked), windowRun(t, twoPass{two}, values, clocked)
				if !slices.Equal(got, want) {
					t.Fatalf("clocked %v: one pass gave %d results, two passes %d:\n%q\n%q", clocked, len(got), len(want), got, want)
				}
				if !slices.ContainsFunc(got, func(s string) bool { return len(s) > 6 && s[:6] == "failed" }) || len(got) < 20 {
					t.Fatalf("clocked %v: the run did not meet a failed record or gave few windows: %q", clocked, got)
				}
				if c.Window != "none" && !slices.ContainsFunc(got, func(s string) bool { return len(s) > 4 && s[:4] == "late" }) {
					t.Fatalf("clocked %v: no record came late: %q", clocked, got)
				}
			}
		})
	}
}
