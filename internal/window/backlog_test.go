package window

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/window/ordergen"
)

var orderAggs = map[string]string{"orders": "count()", "revenue": "sum(amount)"}

func genConfig() ordergen.Config {
	return ordergen.Config{Records: 30000, Partitions: 6, Seed: 17, Size: 10000, Grace: 5000}
}

func expected(t *testing.T, evs []ordergen.Event, c ordergen.Config) map[string][2]int64 {
	exp := ordergen.Reference(evs, c.Size, c.Grace)
	want := map[string][2]int64{}
	for k, v := range exp.Windows {
		want[fmt.Sprintf("%s|%d", k.Country, k.Start)] = [2]int64{v.Count, v.Cents}
	}
	if len(exp.Late) == 0 {
		t.Fatal("the generator made no late event")
	}
	return want
}

// runLive feeds the events in the order they were produced.
func runLive(t *testing.T, evs []ordergen.Event, spec Spec) *driver {
	d := newDriver(t, spec, orderAggs, 0)
	for p := range ordergen.ByPartition(evs) {
		d.tr.Assign(int32(p), 0) // as the runtime does when partitions are assigned
	}
	for i, e := range evs {
		d.feed(e.Partition, e.AppendJSON(nil, false), int64(i))
	}
	d.finish()
	return d
}

// runBacklog reads partitions in chunks of random size, in random order,
// as fetches of a backlog give them.
// The partitions are lagging (records are waiting) until read to the end.
func runBacklog(t *testing.T, evs []ordergen.Event, spec Spec, seed uint64, chunk int, epoch, lagging bool) *driver {
	d := newDriver(t, spec, orderAggs, 1000)
	parts := ordergen.ByPartition(evs)
	for p := range parts {
		d.tr.Assign(int32(p), 0)
		d.tr.SetLagging(int32(p), lagging)
	}
	r := rand.New(rand.NewPCG(seed, seed))
	wall := int64(0)
	for {
		var left []int
		for p, es := range parts {
			if len(es) > 0 {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		p := left[r.IntN(len(left))]
		n := min(len(parts[p]), 1+r.IntN(chunk))
		for _, e := range parts[p][:n] {
			wall += 10 // a slow read: far past idle_timeout_ms between a partition's chunks
			d.feed(e.Partition, e.AppendJSON(nil, epoch), wall)
		}
		if parts[p] = parts[p][n:]; len(parts[p]) == 0 {
			d.tr.SetLagging(int32(p), false)
		}
	}
	d.finish()
	return d
}

func lateIDs(evs []ordergen.Event, c ordergen.Config) []string {
	return slices.Sorted(maps.Keys(ordergen.Reference(evs, c.Size, c.Grace).Late))
}

// TestBacklogMatchesLive is the test of the watermark: reading a
// backlog with partitions at uneven paces gives exactly the windows of a
// live run, both equal to the reference computation, and the late records
// are exactly those the per-partition rule names.
func TestBacklogMatchesLive(t *testing.T) {
	c := genConfig()
	evs := ordergen.Generate(c)
	want := expected(t, evs, c)
	wantLate := lateIDs(evs, c)

	spec := Spec{Kind: Tumbling, Size: c.Size, Grace: c.Grace}
	live := runLive(t, evs, spec)
	if got := live.totals(); !maps.Equal(got, want) {
		t.Fatalf("live run: %d windows, want %d; first difference: %s", len(got), len(want), firstDiff(got, want))
	}
	if got := slices.Sorted(slices.Values(live.late)); !slices.Equal(got, wantLate) {
		t.Fatalf("live run: %d late, want %d", len(got), len(wantLate))
	}
	for _, chunk := range []int{1, 50, 500, 5000} {
		t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
			back := runBacklog(t, evs, spec, uint64(chunk), chunk, chunk%2 == 0, true)
			if got := back.totals(); !maps.Equal(got, want) {
				t.Fatalf("backlog: %d windows, want %d; first difference: %s", len(got), len(want), firstDiff(got, want))
			}
			if !maps.Equal(back.out, live.out) {
				t.Fatal("backlog output records differ from the live run's")
			}
			if got := slices.Sorted(slices.Values(back.late)); !slices.Equal(got, wantLate) {
				t.Fatalf("backlog: %d late, want %d", len(got), len(wantLate))
			}
			if back.lateWhy[LateClosed] != 0 {
				t.Fatalf("%d records late because a window closed early", back.lateWhy[LateClosed])
			}
		})
	}
	t.Logf("%d events, %d windows, %d late", len(evs), len(want), len(wantLate))
}

func firstDiff(got, want map[string][2]int64) string {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			return fmt.Sprintf("%s: got %v, want %v", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%s: unexpected %v", k, got[k])
		}
	}
	return "none"
}

// TestStreamTimeWouldBeWrong shows that the test above can fail: the
// watermark of the fastest partition (Kafka Streams' stream time after a
// repartition) drops records of a backlog that a live run counts.
func TestStreamTimeWouldBeWrong(t *testing.T) {
	c := genConfig()
	evs := ordergen.Generate(c)
	spec := Spec{Kind: Tumbling, Size: c.Size, Grace: c.Grace}
	streamTime, dropped := NoTime, 0
	var buf []Window
	for _, part := range ordergen.ByPartition(evs) { // a whole partition first
		for _, e := range part {
			var why Lateness
			if buf, why = spec.Place(buf[:0], e.Time, streamTime, NoTime); why != OnTime {
				dropped++
			}
			streamTime = max(streamTime, e.Time)
		}
	}
	if want := len(lateIDs(evs, c)); dropped <= 10*want {
		t.Fatalf("stream time dropped %d records, only %d late by the per-partition rule", dropped, want)
	}
}

// TestBacklogMatchesLiveHoppingSession: hopping and session windows too
// come out the same from a backlog as live.
func TestBacklogMatchesLiveHoppingSession(t *testing.T) {
	c := genConfig()
	c.Records = 12000
	evs := ordergen.Generate(c)
	for _, spec := range []Spec{
		{Kind: Hopping, Size: 10000, Advance: 3000, Grace: 5000},
		{Kind: Session, Gap: 30, Grace: 3000},
	} {
		t.Run(spec.Kind.String(), func(t *testing.T) {
			live := runLive(t, evs, spec)
			if live.lateWhy[LateClosed] != 0 {
				t.Fatalf("%d records late because a window closed early", live.lateWhy[LateClosed])
			}
			if len(live.out) < 50 || len(live.late) == 0 {
				t.Fatalf("%d windows, %d late: the data does not exercise %s", len(live.out), len(live.late), spec.Kind)
			}
			for _, chunk := range []int{7, 700} {
				back := runBacklog(t, evs, spec, uint64(chunk), chunk, false, true)
				if !maps.Equal(back.out, live.out) {
					t.Fatalf("chunk %d: %d windows, live %d; the outputs differ", chunk, len(back.out), len(live.out))
				}
				if !slices.Equal(slices.Sorted(slices.Values(back.late)), slices.Sorted(slices.Values(live.late))) {
					t.Fatalf("chunk %d: late records differ", chunk)
				}
			}
			t.Logf("%d windows, %d late", len(live.out), len(live.late))
		})
	}
}

// TestBacklogWithoutLagClosesEarly: if the runtime did not report the
// lag, a slow backlog read would make waiting partitions idle and close
// windows early, which TestBacklogMatchesLive would catch.
func TestBacklogWithoutLagClosesEarly(t *testing.T) {
	c := genConfig()
	evs := ordergen.Generate(c)
	spec := Spec{Kind: Tumbling, Size: c.Size, Grace: c.Grace}
	back := runBacklog(t, evs, spec, 1, 5000, false, false)
	if back.lateWhy[LateClosed] == 0 {
		t.Fatal("no window closed early: the idle rule is not exercised")
	}
	if maps.Equal(back.totals(), expected(t, evs, c)) {
		t.Fatal("windows closed early yet the totals are right")
	}
}
