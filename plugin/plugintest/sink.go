package plugintest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

// ReadBack returns the record values a sink's destination holds durably
// now (a topic read to its end, a file, a table), in the order they were
// written. It fails t when it cannot read.
type ReadBack func(t testing.TB) [][]byte

// SinkCase describes a sink to check.
type SinkCase struct {
	// New builds a sink writing to a fresh, empty destination (a new
	// topic, file or table; for a Kafka sink, of one partition, so that the
	// order of what it holds is the order written), and a ReadBack of that
	// destination. A nil ReadBack leaves durability and order unchecked:
	// the checks then only see what Publish returns.
	New func(t testing.TB) (plugin.Sink, ReadBack)
	// Failing is a record the sink fails on its own, whatever its
	// neighbours (too large for it, say), for the write-error check; nil
	// skips that check.
	Failing []byte
}

// TestSink checks c's sink against plugin.Sink's contract, one subtest
// each:
//
//   - publish-durable: once Publish returns nil the records of its
//     messages (batch messages, several in a call, and a plain message of
//     one record) are durable and in order, as ReadBack sees them; for a
//     plugin.Flusher, once Flush returns nil.
//   - concurrent-order: Publish from several goroutines at once (run with
//     -race) writes each record once, and each goroutine's in its order.
//   - sender: for a plugin.Sender, Send then Wait makes records durable as
//     Publish does, and two Sends from one goroutine keep their order.
//   - write-error: a write holding Failing fails with a *plugin.WriteError
//     whose Failed holds its index over all records of the call, ascending
//     and with an error each; the records it does not name are durable;
//     for a Sender, Send then Wait names the same records.
//   - cancelled: Publish of messages whose context has ended, and a
//     Sender's Wait on such a context, return.
//   - close: Close returns nil, unused or after writes.
//
// Every sink the checks build is closed once, at the end of its check.
func TestSink(t *testing.T, c SinkCase) {
	t.Helper()
	runChecks(t, sinkChecks(c))
}

// CheckSink runs TestSink's checks outside a test and returns one error
// per check that failed, or nil.
func CheckSink(c SinkCase) error { return collectChecks(sinkChecks(c)) }

func sinkChecks(c SinkCase) []check {
	s := sinkChecker{c}
	return []check{
		{"publish-durable", s.publishDurable},
		{"concurrent-order", s.concurrentOrder},
		{"sender", s.sender},
		{"write-error", s.writeError},
		{"cancelled", s.cancelled},
		{"close", s.close},
	}
}

type sinkChecker struct{ c SinkCase }

// topic is what the suite passes to Publish: a sink may ignore it.
const topic = "plugintest"

// build makes a sink and closes it, once, at the end of the check.
func (s sinkChecker) build(t testing.TB) (plugin.Sink, ReadBack) {
	sink, rb := s.c.New(t)
	if sink == nil {
		t.Fatal("New returned no sink")
	}
	t.Cleanup(func() {
		var err error
		if !within(wait, func() { err = sink.Close() }) {
			t.Errorf("Close did not return within %v", wait)
		} else if err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sink, rb
}

// batchMsg is a batch message of vals.
func batchMsg(vals [][]byte, first int64) *message.Message {
	return plugin.Batch{Records: recordsOf(vals, first), Origin: "plugintest", Partition: 0}.Message(watermill.NewUUID())
}

// flush flushes a Flusher; it reports whether the sink is one.
func flush(t testing.TB, sink plugin.Sink) bool {
	f, ok := sink.(plugin.Flusher)
	if !ok {
		return false
	}
	var err error
	if !within(wait, func() { err = f.Flush(context.Background()) }) {
		t.Fatalf("Flush did not return within %v", wait)
	}
	if err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return true
}

// durable checks that rb holds exactly want, in order.
func durable(t testing.TB, rb ReadBack, want [][]byte, when string) {
	t.Helper()
	durableFrom(t, rb(t), want, when)
}

// durablePrefix checks that rb holds want, in order, and perhaps records
// handed over since.
func durablePrefix(t testing.TB, rb ReadBack, want [][]byte, when string) {
	t.Helper()
	got := rb(t)
	durableFrom(t, got[:min(len(got), len(want))], want, when)
}

func durableFrom(t testing.TB, got, want [][]byte, when string) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if !sameJSON(got[i], want[i]) {
			t.Fatalf("%s, record %d at the destination is %s, want %s (records lost, reordered or changed)", when, i, short(got[i]), short(want[i]))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s, the destination holds %d records, want %d", when, len(got), len(want))
	}
}

func (s sinkChecker) publish(t testing.TB, sink plugin.Sink, msgs ...*message.Message) error {
	var err error
	if !within(wait, func() { err = sink.Publish(topic, msgs...) }) {
		t.Fatalf("Publish did not return within %v", wait)
	}
	return err
}

func (s sinkChecker) publishDurable(t testing.TB) {
	sink, rb := s.build(t)
	_, flusher := sink.(plugin.Flusher)
	all := seqRecords(-1, 112)
	steps := []struct {
		what string
		msgs []*message.Message
		n    int
	}{
		{"one batch message of 5 records", []*message.Message{batchMsg(all[0:5], 0)}, 5},
		{"two batch messages in one call", []*message.Message{batchMsg(all[5:8], 5), batchMsg(all[8:12], 8)}, 12},
		{"a plain message (one record, not a batch)", []*message.Message{message.NewMessage(watermill.NewUUID(), all[12])}, 13},
		{"a batch message of 99 records", []*message.Message{batchMsg(all[13:112], 13)}, 112},
	}
	for _, st := range steps {
		if err := s.publish(t, sink, st.msgs...); err != nil {
			t.Fatalf("Publish of %s: %v", st.what, err)
		}
		if rb != nil && !flusher {
			durable(t, rb, all[:st.n], "when Publish of "+st.what+" returned")
		}
	}
	if flush(t, sink) && rb != nil {
		durable(t, rb, all, "when Flush returned")
	}
}

func (s sinkChecker) concurrentOrder(t testing.TB) {
	sink, rb := s.build(t)
	const goroutines, calls, per = 4, 10, 10
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals := seqRecords(g, calls*per)
			for c := range calls {
				if err := sink.Publish(topic, batchMsg(vals[c*per:(c+1)*per], int64(c*per))); err != nil {
					errs <- fmt.Errorf("goroutine %d, Publish %d: %w", g, c, err)
					return
				}
			}
		}()
	}
	if !within(wait, wg.Wait) {
		t.Fatalf("Publish from %d goroutines at once did not return within %v", goroutines, wait)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	flush(t, sink)
	if rb == nil {
		return
	}
	next := make([]int, goroutines)
	for i, v := range rb(t) {
		g, n := gOf(v), seqOf(v)
		if g < 0 || g >= goroutines {
			t.Fatalf("record %d at the destination, %s, is not one the suite wrote", i, short(v))
		}
		if n != next[g] {
			t.Fatalf("record %d at the destination is goroutine %d's record %d, want its record %d: each goroutine's records must be written once, in order", i, g, n, next[g])
		}
		next[g]++
	}
	for g, n := range next {
		if n != calls*per {
			t.Errorf("the destination holds %d of goroutine %d's %d records", n, g, calls*per)
		}
	}
}

func (s sinkChecker) sender(t testing.TB) {
	sink, rb := s.build(t)
	snd, ok := sink.(plugin.Sender)
	if !ok {
		t.Skip("the sink is no plugin.Sender")
	}
	_, flusher := sink.(plugin.Flusher)
	all := seqRecords(-1, 30)
	if err := s.publish(t, sink, batchMsg(all[:10], 0)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	ctx := context.Background()
	var b, c plugin.Pending
	if !within(wait, func() { b = snd.Send(ctx, recordsOf(all[10:20], 10)); c = snd.Send(ctx, recordsOf(all[20:30], 20)) }) {
		t.Fatalf("Send did not return within %v", wait)
	}
	for i, p := range []plugin.Pending{b, c} {
		var err error
		if !within(wait, func() { err = p.Wait(ctx) }) {
			t.Fatalf("Wait of Send %d did not return within %v", i+1, wait)
		}
		if err != nil {
			t.Fatalf("Wait of Send %d: %v", i+1, err)
		}
		if rb != nil && !flusher {
			durablePrefix(t, rb, all[:20+10*i], fmt.Sprintf("when Wait of Send %d returned", i+1))
		}
	}
	if flush(t, sink) && rb != nil {
		durable(t, rb, all, "when Flush returned")
	}
}

func (s sinkChecker) writeError(t testing.TB) {
	if s.c.Failing == nil {
		t.Skip("the case names no record the sink fails (SinkCase.Failing)")
	}
	sink, rb := s.build(t)
	good := seqRecords(-1, 3)
	vals := [][]byte{good[0], good[1], s.c.Failing, good[2]}
	const bad = 2
	err := s.publish(t, sink, batchMsg(vals[:2], 0), batchMsg(vals[2:], 2))
	failed := checkWriteError(t, "Publish", err, len(vals), bad)
	want := kept(vals, failed)
	if snd, ok := sink.(plugin.Sender); ok {
		ctx := context.Background()
		var err error
		if !within(wait, func() { err = snd.Send(ctx, recordsOf(vals, 0)).Wait(ctx) }) {
			t.Fatalf("Send and Wait did not return within %v", wait)
		}
		f := checkWriteError(t, "Send and Wait", err, len(vals), bad)
		if !slices.Equal(f, failed) {
			t.Errorf("Send and Wait failed records %v, Publish of the same records %v: they must agree", f, failed)
		}
		want = append(want, kept(vals, f)...)
	}
	flush(t, sink)
	if rb != nil {
		durable(t, rb, want, "after writes that failed only some records")
	}
}

// kept returns the values not named in failed.
func kept(vals [][]byte, failed []int) [][]byte {
	var out [][]byte
	for i, v := range vals {
		if !slices.Contains(failed, i) {
			out = append(out, v)
		}
	}
	return out
}

// checkWriteError checks that err is a *plugin.WriteError of a write of n
// records naming record bad, and returns its Failed.
func checkWriteError(t testing.TB, what string, err error, n, bad int) []int {
	t.Helper()
	if err == nil {
		t.Fatalf("%s of records of which %d fails returned nil", what, bad)
	}
	var we *plugin.WriteError
	if !errors.As(err, &we) {
		t.Fatalf("%s failed with %v (%T), want a *plugin.WriteError naming record %d", what, err, err, bad)
	}
	if !slices.Contains(we.Failed, bad) {
		t.Errorf("%s: WriteError.Failed is %v, want it to name record %d (indexes run over all records of the call)", what, we.Failed, bad)
	}
	if len(we.Errs) != len(we.Failed) {
		t.Errorf("%s: WriteError has %d indexes and %d errors; they run parallel", what, len(we.Failed), len(we.Errs))
	}
	for i, f := range we.Failed {
		if f < 0 || f >= n || (i > 0 && f <= we.Failed[i-1]) {
			t.Errorf("%s: WriteError.Failed is %v: want ascending indexes of the %d records written", what, we.Failed, n)
			break
		}
		if i < len(we.Errs) && we.Errs[i] == nil {
			t.Errorf("%s: WriteError names record %d with a nil error", what, f)
		}
	}
	return we.Failed
}

func (s sinkChecker) cancelled(t testing.TB) {
	sink, _ := s.build(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg := batchMsg(seqRecords(-1, 10), 0)
	msg.SetContext(ctx)
	if !within(wait, func() { _ = sink.Publish(topic, msg) }) {
		t.Fatalf("Publish of a message whose context has ended did not return within %v", wait)
	}
	if snd, ok := sink.(plugin.Sender); ok {
		if !within(wait, func() { _ = snd.Send(ctx, recordsOf(seqRecords(-1, 10), 0)).Wait(ctx) }) {
			t.Fatalf("Send and Wait on a context that has ended did not return within %v", wait)
		}
	}
}

func (s sinkChecker) close(t testing.TB) {
	s.build(t) // closed unused by build's cleanup
	sink, _ := s.build(t)
	if err := s.publish(t, sink, batchMsg(seqRecords(-1, 5), 0)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	flush(t, sink)
}
