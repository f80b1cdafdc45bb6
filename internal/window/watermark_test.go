package window

import (
	"testing"
)

func TestWatermarkIsMinimumOverPartitions(t *testing.T) {
	tr := NewTracker(0)
	tr.Assign(0, 0)
	tr.Assign(1, 0)
	tr.Observe(0, 100, 0)
	if wm := tr.Advance(0); wm != NoTime {
		t.Fatalf("partition 1 has no record yet: watermark %d", wm)
	}
	if prev := tr.Observe(1, 50, 0); prev != NoTime {
		t.Fatalf("first record's prev = %d", prev)
	}
	if wm := tr.Advance(0); wm != 50 {
		t.Fatalf("watermark %d, want 50", wm)
	}
	if prev := tr.Observe(1, 40, 0); prev != 50 {
		t.Fatalf("prev %d, want 50 (its own partition's max)", prev)
	}
	if wm := tr.Advance(0); wm != 50 {
		t.Fatalf("an out-of-order record moved the watermark to %d", wm)
	}
	tr.Revoke(1)
	if wm := tr.Advance(0); wm != 100 {
		t.Fatalf("after revoking the slow partition: %d, want 100", wm)
	}
	tr.Assign(1, 0) // back with no record: cannot lower the watermark
	if wm := tr.Advance(0); wm != 100 {
		t.Fatalf("watermark went back to %d", wm)
	}
}

func TestIdlePartitionStopsHoldingBack(t *testing.T) {
	tr := NewTracker(1000)
	tr.Assign(0, 0)
	tr.Assign(1, 0)
	tr.Observe(0, 100, 10)
	tr.Observe(1, 50, 10)
	if wm := tr.Advance(1009); wm != 50 {
		t.Fatalf("before idle_timeout_ms: %d", wm)
	}
	tr.Observe(0, 200, 1009)
	if wm := tr.Advance(1010); wm != 200 {
		t.Fatalf("partition 1 idle since 10: watermark %d, want 200", wm)
	}
	// Partition 1 comes back behind the watermark: its record is not late
	// in its partition, but its window closed: LateClosed.
	prev := tr.Observe(1, 60, 1011)
	spec := Spec{Kind: Tumbling, Size: 100, Grace: 0}
	if _, l := spec.Place(nil, 60, prev, tr.Watermark()); l != LateClosed {
		t.Fatalf("lateness %v, want LateClosed", l)
	}
	if wm := tr.Advance(1011); wm != 200 {
		t.Fatalf("watermark went back to %d", wm)
	}
	// Every input idle: the watermark is the greatest maximum seen.
	tr.Observe(0, 300, 1011)
	if wm := tr.Advance(5000); wm != 300 {
		t.Fatalf("all idle: %d, want 300", wm)
	}
}

func TestLaggingPartitionIsNeverIdle(t *testing.T) {
	tr := NewTracker(1000)
	tr.Assign(0, 0)
	tr.Assign(1, 0)
	tr.SetLagging(1, true)
	tr.Observe(0, 100, 0)
	tr.Observe(1, 50, 0)
	if wm := tr.Advance(10_000); wm != 50 {
		t.Fatalf("a lagging partition went idle: watermark %d", wm)
	}
	tr.SetLagging(1, false)
	if wm := tr.Advance(10_000); wm != 100 {
		t.Fatalf("caught up and quiet: watermark %d, want 100", wm)
	}
}

func TestCarriedMarks(t *testing.T) {
	tr := NewTracker(0)
	tr.Assign(0, 0) // source partitions behind a repartition topic
	tr.Assign(1, 0)
	// Source 0's record, read late through repartition partition B, says
	// source 0 was at 70 before it, though another repartition partition
	// already showed source 0 at 500.
	tr.ObserveMark(Mark{Input: 0, Max: 500}, 0)
	if prev := tr.ObserveCarried(0, 65, 70, 0); prev != 70 {
		t.Fatalf("prev %d, want the carried 70", prev)
	}
	tr.ObserveMark(Mark{Input: 1, Max: 400}, 0)
	if wm := tr.Advance(0); wm != 400 {
		t.Fatalf("watermark %d, want 400", wm)
	}
	tr.ObserveMark(Mark{Input: 1, Max: 400, Idle: true}, 0)
	if wm := tr.Advance(0); wm != 500 {
		t.Fatalf("source 1 idle: %d, want 500", wm)
	}
	marks := tr.Marks(nil)
	if len(marks) != 2 || marks[0] != (Mark{0, 500, false}) || marks[1] != (Mark{1, 400, true}) {
		t.Fatalf("marks %v", marks)
	}
	tr.Finish()
	if tr.Watermark() != 1<<63-1 {
		t.Fatal("Finish did not close everything")
	}
}

func TestMarkEncoding(t *testing.T) {
	for _, m := range []Mark{{0, NoTime, false}, {5, 1796601660250, true}, {1<<31 - 1, -1, false}} {
		b, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseMark(b)
		if err != nil || got != m {
			t.Fatalf("%v: %v %v", m, got, err)
		}
		if _, err := ParseMark(b[:len(b)-1]); err == nil {
			t.Fatalf("%v: a truncated mark parsed", m)
		}
	}
	if _, err := (Mark{Input: -1}).AppendBinary(nil); err == nil {
		t.Fatal("negative input encoded")
	}
	if _, err := ParseMark([]byte{2, 0, 0, 0}); err == nil {
		t.Fatal("version 2 parsed")
	}
}
