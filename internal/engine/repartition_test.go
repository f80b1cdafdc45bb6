package engine

import (
	"fmt"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// marked is a record of a repartition topic as its reader gives it: the
// value, and the mark of input partition in whose largest event time
// before it was prev.
func marked(t *testing.T, value string, input int32, prev int64) plugin.Record {
	return markedAt(t, value, input, prev, -1)
}

// markedAt is marked with the record's offset in its input partition.
func markedAt(t *testing.T, value string, input int32, prev, offset int64) plugin.Record {
	t.Helper()
	m, err := window.Mark{Input: input, Max: prev}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := []record.Header{{Key: []byte(window.MarkHeader), Value: m}}
	if offset >= 0 {
		hs = append(hs, record.Header{Key: []byte(offsetHeader), Value: fmt.Append(nil, offset)})
	}
	return plugin.Record{Value: fmt.Appendf(nil, `{%s"_kafka_headers":%s}`, value, record.AppendHeaders(nil, hs))}
}

// markRecord is a mark record (a tombstone with a mark) of input.
func markRecord(t *testing.T, input int32, mx int64) plugin.Record {
	return marked(t, `"_kafka_payload":null,"_kafka_key":null,`, input, mx)
}

// The watermark of a repartition partition is the minimum over the input
// partitions that write to it: one input far ahead does not close a window
// another input has not passed.
func TestRepartitionClockMinOverWriters(t *testing.T) {
	c := newRepartitionClock(3, 0)
	for in, mx := range []int64{100, 5000, 300} {
		if c.Take(markRecord(t, int32(in), mx), 0) != state.TakeMark {
			t.Fatalf("input %d: a mark record not taken as one", in)
		}
	}
	if wm := c.Advance(0); wm != 100 {
		t.Errorf("watermark %d, want 100, the slowest input's", wm)
	}
	c.Take(markRecord(t, 0, 400), 1)
	if wm := c.Advance(1); wm != 300 {
		t.Errorf("watermark %d after input 0 reached 400, want 300 (input 2)", wm)
	}
	// An input not heard from at all holds it at nothing.
	c2 := newRepartitionClock(3, 0)
	c2.Take(markRecord(t, 0, 100), 0)
	c2.Take(markRecord(t, 1, 100), 0)
	if wm := c2.Advance(10_000); wm != window.NoTime {
		t.Errorf("watermark %d with input 2 silent and no idle timeout, want NoTime", wm)
	}
	// A record (not a mark record) is processed, and advances its input.
	if c2.Take(marked(t, `"a":1,`, 2, 50), 0) != state.TakeRecord {
		t.Error("a record taken as a mark record")
	}
	c2.Observe(plugin.Record{}, 70, 0)
	if wm := c2.Advance(0); wm != 70 {
		t.Errorf("watermark %d after input 2's record at 70, want 70", wm)
	}
}

// An input that sends nothing for idle_timeout_ms stops holding the
// watermark back; one heard from again holds it again.
func TestRepartitionClockIdle(t *testing.T) {
	c := newRepartitionClock(2, 1000)
	c.Take(markRecord(t, 0, 100), 0)
	c.Take(markRecord(t, 1, 900), 0)
	if wm := c.Advance(500); wm != 100 {
		t.Errorf("watermark %d before the idle timeout, want 100", wm)
	}
	c.Take(markRecord(t, 1, 2000), 1200) // input 0 silent since 0
	if wm := c.Advance(1200); wm != 2000 {
		t.Errorf("watermark %d once input 0 was idle 1200 ms (timeout 1000), want 2000", wm)
	}
	c.Take(markRecord(t, 0, 2100), 1300)
	c.Take(markRecord(t, 1, 3000), 1300)
	if wm := c.Advance(1300); wm != 2100 {
		t.Errorf("watermark %d once input 0 is back, want 2100", wm)
	}
}

// What Process sees as the watermark for a record is its own input
// partition's largest event time before it (the mark it carries), or the
// watermark when that is higher: a record is late by its own partition's
// order, not by how the repartition topic interleaves the inputs.
func TestRepartitionClockLateByOwnPartition(t *testing.T) {
	c := newRepartitionClock(2, 0)
	c.Take(markRecord(t, 0, 50_000), 0) // input 0 far ahead
	c.Take(marked(t, `"a":1,`, 1, 1000), 0)
	if got := c.Observe(plugin.Record{}, 900, 0); got != 1000 {
		t.Errorf("input 1's record sees %d, want 1000 (its partition's maximum, not input 0's 50000)", got)
	}
	c.Advance(0) // watermark 1000: min(50000, 1000)
	c.Take(marked(t, `"a":1,`, 1, 800), 0)
	if got := c.Observe(plugin.Record{}, 700, 0); got != 1000 {
		t.Errorf("a record whose mark is below the watermark sees %d, want the watermark 1000", got)
	}
}

type keyProc struct{}

func (keyProc) Key(r plugin.Record) ([]byte, error) {
	if len(r.Value) < 9 {
		return nil, fmt.Errorf("no key")
	}
	return r.Value[6:9], nil
}
func (keyProc) EventTime(r plugin.Record) (int64, error) {
	return int64(r.Value[len(r.Value)-2] - '0'), nil
}
func (keyProc) Process(plugin.State, plugin.Record) error { return nil }
func (keyProc) OnTimer(plugin.State, int64, []byte) error { return nil }
func (f fakeRepartition) Partitions() int32               { return f.n }

type fakeRepartition struct {
	state.Repartition
	n int32
}

// The writer keys each record by the stage's key and gives it the mark of
// its input partition's largest event time before it; after the batch,
// when that rose, a mark record goes to every repartition partition; the
// record's own Kafka fields are left to the reader, a key that cannot be
// had fails the record alone.
func TestRepartitionWriterMessages(t *testing.T) {
	rp := &repartitioned{rp: fakeRepartition{n: 3}, keyer: keyProc{}, writers: map[int32]*markWriter{}}
	w := rp.writer(4)
	b := plugin.Batch{Partition: 4, Records: []plugin.Record{
		{Value: []byte(`{"k":"AAA","_kafka_key":"x","t":5}`), Offset: 10},
		{Value: []byte(`{}`), Offset: 11},
		{Value: []byte(`{"k":"BBB","t":3}`), Offset: 12},
	}}
	msgs, failed := rp.messages(keyProc{}, w, b, window.NoTime, false)
	if len(failed) != 1 || string(failed[0].rec.Value) != `{}` {
		t.Fatalf("failed %v, want the record without a key", failed)
	}
	if len(msgs) != 2+3 {
		t.Fatalf("%d messages, want 2 records and 3 mark records", len(msgs))
	}
	wantMax := []int64{window.NoTime, 5}
	for i, m := range msgs[:2] {
		if m.Partition != -1 || len(m.Headers) != 2 || string(m.Headers[0].Key) != window.MarkHeader || string(m.Headers[1].Key) != offsetHeader {
			t.Fatalf("message %d: %+v, want keyed, with a mark and an offset header", i, m)
		}
		if want := fmt.Sprint(b.Records[2*i].Offset); string(m.Headers[1].Value) != want {
			t.Errorf("message %d: offset header %q, want %s", i, m.Headers[1].Value, want)
		}
		mk, err := window.ParseMark(m.Headers[0].Value)
		if err != nil || mk.Input != 4 || mk.Max != wantMax[i] {
			t.Errorf("message %d: mark %+v (%v), want input 4, max %d", i, mk, err, wantMax[i])
		}
	}
	if string(msgs[0].Key) != "AAA" || string(msgs[0].Value) != `{"k":"AAA","t":5}` {
		t.Errorf("first message: key %q value %s, want AAA and the record without _kafka_key", msgs[0].Key, msgs[0].Value)
	}
	for p, m := range msgs[2:] {
		mk, _ := window.ParseMark(m.Headers[0].Value)
		if m.Key != nil || m.Value != nil || m.Partition != int32(p) || mk.Max != 5 {
			t.Errorf("mark record %d: %+v (mark %+v), want to partition %d, no key or value, max 5", p, m, mk, p)
		}
	}
	// No rise, no mark records.
	msgs, _ = rp.messages(keyProc{}, w, plugin.Batch{Partition: 4, Records: []plugin.Record{{Value: []byte(`{"k":"CCC","t":4}`)}}}, window.NoTime, false)
	if len(msgs) != 1 {
		t.Errorf("%d messages after a batch that did not raise the maximum, want the record alone", len(msgs))
	}
	// Below another repartition, the stage above's watermark is the
	// partition's progress: marks go out when it rises, records or not.
	msgs, _ = rp.messages(keyProc{}, w, plugin.Batch{Partition: 4}, 9, true)
	if len(msgs) != 3 {
		t.Fatalf("%d messages after the watermark above rose to 9, want 3 mark records", len(msgs))
	}
	if mk, _ := window.ParseMark(msgs[0].Headers[0].Value); mk.Max != 9 {
		t.Errorf("mark %+v, want max 9", mk)
	}
}

// A record written a second time to the repartition topic (its input read
// again after a crash, before its offset was committed) is skipped: the
// state has counted it; the input offsets taken and the inputs' event
// times survive a restore through the checkpoint.
func TestRepartitionClockSkipsReplayedAndRestores(t *testing.T) {
	c := newRepartitionClock(2, 0)
	for off := int64(0); off < 3; off++ {
		if got := c.Take(markedAt(t, `"a":1,`, 1, 100+off, off), 0); got != state.TakeRecord {
			t.Fatalf("offset %d: %v, want a record to process", off, got)
		}
	}
	c.Take(markRecord(t, 0, 700), 0)
	c.Take(markRecord(t, 1, 800), 0)
	for _, off := range []int64{1, 2} {
		if got := c.Take(markedAt(t, `"a":1,`, 1, 100, off), 0); got != state.TakeReplayed {
			t.Errorf("offset %d again: %v, want replayed", off, got)
		}
	}
	if got := c.Take(markedAt(t, `"a":1,`, 0, 700, 2), 0); got != state.TakeRecord {
		t.Errorf("offset 2 of the other input: %v, want a record", got)
	}
	cp := c.Checkpoint(nil)
	r := newRepartitionClock(2, 0)
	if err := r.Restore(cp, 0); err != nil {
		t.Fatal(err)
	}
	if got := r.Take(markedAt(t, `"a":1,`, 1, 100, 2), 0); got != state.TakeReplayed {
		t.Errorf("after a restore, offset 2 of input 1 again: %v, want replayed", got)
	}
	if got := r.Take(markedAt(t, `"a":1,`, 1, 800, 3), 0); got != state.TakeRecord {
		t.Errorf("after a restore, offset 3 of input 1: %v, want a record", got)
	}
	if wm := r.Advance(0); wm != 700 {
		t.Errorf("restored watermark %d, want 700 (min of the inputs' 700 and 800)", wm)
	}
	if err := r.Restore([]byte{0xff}, 0); err == nil {
		t.Error("a bad checkpoint restored without an error")
	}
}

// A writer that took an input partition over knows only what it read
// itself: its first records carry a lower largest event time than the
// partition had. The partition heard of the input's progress from the
// writer before (its marks, kept in the checkpoint too), and judges the
// record by that.
func TestRepartitionClockAfterTheWriterMoved(t *testing.T) {
	c := newRepartitionClock(2, 0)
	c.Take(markRecord(t, 0, 9000), 0)
	c.Take(markRecord(t, 1, 30_000), 0) // the old writer of input 1 had reached 30000
	c.Advance(0)
	r := newRepartitionClock(2, 0)
	if err := r.Restore(c.Checkpoint(nil), 0); err != nil {
		t.Fatal(err)
	}
	r.Take(markedAt(t, `"a":1,`, 1, window.NoTime, 500), 0) // the new writer's first record
	if got := r.Observe(plugin.Record{}, 1000, 0); got != 30_000 {
		t.Errorf("the new writer's first record sees %d, want 30000, what its input had reached before", got)
	}
}
