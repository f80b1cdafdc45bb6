package plugintest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

// NewSource builds a source reading an input made by SourceCase.Input.
// ctx is cancelled as soon as it returns: the source must not keep it.
type NewSource func(ctx context.Context) (plugin.Source, error)

// SourceCase describes a source to check.
type SourceCase struct {
	// Input makes a fresh input (a file, a topic, a table) holding records,
	// in order, and returns how to build sources that read it. Each source
	// it builds reads the same input: one built after another committed
	// progress resumes there. A partitioned input may spread the records
	// over its partitions, keeping their order within each. Configure
	// small batches (tens of records) so that the checks see several
	// messages.
	Input func(t testing.TB, records [][]byte) NewSource
	// Resumes says that the source records progress (Kafka offsets, an
	// outbox's offset): a new source over the same input starts after the
	// records whose messages were acked (and committed, for a
	// plugin.Committer), and before any that were not. False for a source
	// that reads its whole input every run (a file).
	Resumes bool
	// Records is how many records each check's input holds (default 240).
	Records int
}

// TestSource checks c's source against plugin.Source's contract, one
// subtest each:
//
//   - emit: the messages decode with plugin.DecodeBatch into every record
//     of the input once, each partition's in order; after Stop, once every
//     message is acked, Done closes, Err (of a plugin.Failer) is nil, and
//     Close returns and ends the channel.
//   - stop-waits: after Stop, Done stays open while a message is neither
//     acked nor nacked, and closes once it is.
//   - nack: a nacked message is emitted again, or the source stops by
//     itself with an error (plugin.Failer); with Resumes, a new source
//     emits its records again: progress never passes a nack.
//   - resume (with Resumes): after acking the first messages (half the
//     records) and nacking the rest, Stop, Done and Commit, a new source
//     starts each partition right after its acked records, emits every
//     record not acked, and none that was.
//   - cancelled-context: cancelling the context given to Subscribe, then
//     Stop, still ends in Done and a Close that returns.
//
// Subscribe is called once per source; Close once, last.
func TestSource(t *testing.T, c SourceCase) {
	t.Helper()
	runChecks(t, sourceChecks(c))
}

// CheckSource runs TestSource's checks outside a test and returns one
// error per check that failed, or nil.
func CheckSource(c SourceCase) error { return collectChecks(sourceChecks(c)) }

func sourceChecks(c SourceCase) []check {
	if c.Records <= 0 {
		c.Records = 240
	}
	s := sourceChecker{c}
	return []check{
		{"emit", s.emit},
		{"stop-waits", s.stopWaits},
		{"nack", s.nack},
		{"resume", s.resume},
		{"cancelled-context", s.cancelledContext},
	}
}

type sourceChecker struct{ c SourceCase }

// got is a message read from a source, decoded.
type got struct {
	msg  *message.Message
	part string // origin and partition
	seqs []int
}

// reader is a subscribed source and what it emitted. A goroutine reads
// its channel into a large buffer, so that the source never waits for the
// check to read.
type reader struct {
	t      testing.TB
	src    plugin.Source
	msgs   chan *message.Message
	ended  chan struct{} // the source's channel is closed
	cancel context.CancelFunc
	closed bool
	handed []*message.Message // every message next returned
}

// subscribe builds a source over input and subscribes to it once.
func (s sourceChecker) subscribe(t testing.TB, input NewSource) *reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	src, err := input(ctx)
	cancel()
	if err != nil {
		t.Fatalf("building the source: %v", err)
	}
	if src == nil {
		t.Fatal("the source built is nil")
	}
	subCtx, subCancel := context.WithCancel(context.Background())
	var ch <-chan *message.Message
	if !within(wait, func() { ch, err = src.Subscribe(subCtx, topic) }) {
		t.Fatalf("Subscribe did not return within %v", wait)
	}
	if err != nil {
		subCancel()
		_ = src.Close()
		t.Fatalf("Subscribe: %v", err)
	}
	r := &reader{t: t, src: src, msgs: make(chan *message.Message, 1<<16), ended: make(chan struct{}), cancel: subCancel}
	go func() {
		defer close(r.ended)
		for m := range ch {
			r.msgs <- m
		}
	}()
	t.Cleanup(func() {
		// A check that failed half way: settle and close what is left.
		if !r.closed {
			for _, m := range r.handed {
				m.Nack() // no-op for one settled already
			}
			r.src.Stop()
			go r.settle(func(m *message.Message) { m.Nack() })
			within(wait, func() { <-r.src.Done() })
			r.close()
		}
		subCancel()
	})
	return r
}

// next returns the next message, decoded, or false when none came within
// d or the source is done and every message it emitted was returned.
func (r *reader) next(d time.Duration) (got, bool) {
	r.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m := <-r.msgs:
			r.handed = append(r.handed, m)
			return decode(r.t, m), true
		case <-r.src.Done():
			// Every message emitted was settled, so it went through msgs.
			select {
			case m := <-r.msgs:
				r.handed = append(r.handed, m)
				return decode(r.t, m), true
			default:
				return got{}, false
			}
		case <-timeout:
			return got{}, false
		}
	}
}

func decode(t testing.TB, m *message.Message) got {
	t.Helper()
	b, err := plugin.DecodeBatch(m)
	if err != nil {
		m.Nack()
		t.Fatalf("message %s: plugin.DecodeBatch: %v", m.UUID, err)
	}
	g := got{msg: m, part: fmt.Sprintf("%s/%d", b.Origin, b.Partition)}
	for i, r := range b.Records {
		n := seqOf(r.Value)
		if n < 0 {
			m.Nack()
			t.Fatalf("message %s, record %d: %s is not a record of the input (no \"seq\")", m.UUID, i, short(r.Value))
		}
		g.seqs = append(g.seqs, n)
	}
	return g
}

// settle hands every message still coming to f, until the channel ends or
// the source is closed.
func (r *reader) settle(f func(*message.Message)) {
	for {
		select {
		case m := <-r.msgs:
			f(m)
		case <-r.ended:
			for {
				select {
				case m := <-r.msgs:
					f(m)
				default:
					return
				}
			}
		}
	}
}

// finish stops the source, settles what it still emits with f, waits for
// Done, and returns the source's error (plugin.Failer).
func (r *reader) finish(f func(*message.Message)) error {
	r.t.Helper()
	r.src.Stop()
	go r.settle(f)
	if !closed(r.src.Done(), wait) {
		r.t.Fatalf("Done did not close within %v of Stop, with every message settled", wait)
	}
	if fl, ok := r.src.(plugin.Failer); ok {
		return fl.Err()
	}
	return nil
}

// close closes the source and checks that Close returns and its channel
// ends.
func (r *reader) close() {
	r.t.Helper()
	r.closed = true
	var err error
	if !within(wait, func() { err = r.src.Close() }) {
		r.t.Fatalf("Close did not return within %v", wait)
	}
	if err != nil {
		r.t.Errorf("Close: %v", err)
	}
	if !closed(r.ended, wait) {
		r.t.Errorf("the channel Subscribe returned is still open %v after Close", wait)
	}
}

func ack(m *message.Message)  { m.Ack() }
func nack(m *message.Message) { m.Nack() }

// order checks that g's records follow those seen before in its partition.
func order(t testing.TB, last map[string]int, g got) {
	t.Helper()
	for _, n := range g.seqs {
		if prev, ok := last[g.part]; ok && n <= prev {
			t.Fatalf("partition %s: record %d emitted after record %d: each partition's records must come once, in order", g.part, n, prev)
		}
		last[g.part] = n
	}
}

func (s sourceChecker) input(t testing.TB) ([][]byte, NewSource) {
	recs := seqRecords(-1, s.c.Records)
	return recs, s.c.Input(t, recs)
}

func (s sourceChecker) emit(t testing.TB) {
	_, input := s.input(t)
	r := s.subscribe(t, input)
	last := map[string]int{}
	seen := map[int]bool{}
	for len(seen) < s.c.Records {
		g, ok := r.next(wait)
		if !ok {
			t.Fatalf("the source emitted %d of the input's %d records, then nothing (within %v, or it was done)", len(seen), s.c.Records, wait)
		}
		order(t, last, g)
		for _, n := range g.seqs {
			if n >= s.c.Records {
				t.Fatalf("record %d is not one of the input's %d", n, s.c.Records)
			}
			seen[n] = true
		}
		g.msg.Ack()
	}
	if err := r.finish(ack); err != nil {
		t.Errorf("Err after every message was acked: %v", err)
	}
	if c, ok := r.src.(plugin.Counter); ok && c.Stats().Records < int64(s.c.Records) {
		t.Errorf("Stats().Records = %d after emitting %d records", c.Stats().Records, s.c.Records)
	}
	r.close()
}

func (s sourceChecker) stopWaits(t testing.TB) {
	_, input := s.input(t)
	r := s.subscribe(t, input)
	g, ok := r.next(wait)
	if !ok {
		t.Fatalf("the source emitted nothing within %v", wait)
	}
	r.src.Stop()
	go r.settle(ack)
	select {
	case <-r.src.Done():
		t.Fatalf("Done closed after Stop while message %s was neither acked nor nacked", g.msg.UUID)
	case <-time.After(quiet):
	}
	g.msg.Ack()
	if err := r.finish(ack); err != nil {
		t.Errorf("Err after every message was acked: %v", err)
	}
	r.close()
}

func (s sourceChecker) nack(t testing.TB) {
	_, input := s.input(t)
	r := s.subscribe(t, input)
	first, ok := r.next(wait)
	if !ok {
		t.Fatalf("the source emitted nothing within %v", wait)
	}
	first.msg.Nack()
	redelivered := false
	deadline := time.After(wait)
	var stopErr error
wait:
	for {
		select {
		case m := <-r.msgs:
			r.handed = append(r.handed, m)
			g := decode(t, m)
			if g.part == first.part && len(g.seqs) > 0 && g.seqs[0] == first.seqs[0] {
				redelivered = true
				g.msg.Ack()
				break wait
			}
			g.msg.Ack()
		case <-r.src.Done():
			fl, isFailer := r.src.(plugin.Failer)
			if !isFailer {
				t.Fatal("the source stopped after a nack but is no plugin.Failer: a run would end as if the nacked records had been written")
			}
			if stopErr = fl.Err(); stopErr == nil {
				t.Fatal("the source stopped after a nack with Err() nil: a run would end as if the nacked records had been written")
			}
			break wait
		case <-deadline:
			t.Fatalf("after a nack of message %s (records %d..%d of %s) the source neither emitted it again nor stopped within %v",
				first.msg.UUID, first.seqs[0], first.seqs[len(first.seqs)-1], first.part, wait)
		}
	}
	// A source may both emit the nacked message again and stop with an
	// error (a foreign Subscriber redelivers before the source stops): Err
	// is free here.
	_ = r.finish(ack)
	if c, ok := r.src.(plugin.Committer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_ = c.Commit(ctx) // may fail after a nack; what it commits is checked below
		cancel()
	}
	r.close()
	if !s.c.Resumes || redelivered {
		return
	}
	t.Logf("the source stopped after the nack: %v", stopErr)
	r2 := s.subscribe(t, input)
	for {
		g, ok := r2.next(wait)
		if !ok {
			t.Fatalf("a new source did not emit record %d of %s, which was nacked (within %v, or before it was done): progress passed a nack", first.seqs[0], first.part, wait)
		}
		g.msg.Ack()
		if g.part == first.part && len(g.seqs) > 0 && g.seqs[0] <= first.seqs[0] {
			t.Logf("a new source emitted the nacked record %d of %s again", first.seqs[0], first.part)
			break
		}
	}
	r2.finish(ack)
	r2.close()
}

func (s sourceChecker) resume(t testing.TB) {
	if !s.c.Resumes {
		t.Skip("the source records no progress (SourceCase.Resumes is false)")
	}
	_, input := s.input(t)
	r := s.subscribe(t, input)
	// Ack messages as they come (a source may emit the next only once the
	// last was acked) until half the records are in, then nack the next
	// one and every one after it.
	acked := map[int]bool{}
	var mu sync.Mutex
	resumeAt := map[string]int{} // per partition, the first record not acked
	notAcked := func(m *message.Message) {
		m.Nack()
		if b, err := plugin.DecodeBatch(m); err == nil && len(b.Records) > 0 {
			part := fmt.Sprintf("%s/%d", b.Origin, b.Partition)
			mu.Lock()
			if _, ok := resumeAt[part]; !ok {
				resumeAt[part] = seqOf(b.Records[0].Value)
			}
			mu.Unlock()
		}
	}
	k := 0
	for len(acked) < s.c.Records/2 {
		g, ok := r.next(wait)
		if !ok {
			t.Fatalf("the source emitted %d records, then nothing for %v", len(acked), wait)
		}
		for _, n := range g.seqs {
			acked[n] = true
		}
		g.msg.Ack()
		k++
	}
	g, ok := r.next(wait)
	if !ok {
		t.Fatalf("the source emitted %d records, then nothing for %v", len(acked), wait)
	}
	notAcked(g.msg)
	r.finish(notAcked) // Err may report the nacks
	if c, ok := r.src.(plugin.Committer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		err := c.Commit(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Commit after acking %d messages: %v", k, err)
		}
	}
	r.close()
	mu.Lock()
	resumeAt = maps.Clone(resumeAt)
	mu.Unlock()
	t.Logf("acked the first %d messages (%d records), nacked the rest; want a new source to resume at %v", k, len(acked), resumeAt)

	r2 := s.subscribe(t, input)
	last := map[string]int{}
	seen := 0
	for seen < s.c.Records-len(acked) {
		g, ok := r2.next(wait)
		if !ok {
			t.Fatalf("a new source emitted %d of the %d records not acked, then nothing (within %v, or it was done)", seen, s.c.Records-len(acked), wait)
		}
		if _, started := last[g.part]; !started {
			if want, ok := resumeAt[g.part]; ok && len(g.seqs) > 0 && g.seqs[0] != want {
				t.Errorf("a new source starts partition %s at record %d, want %d: the first record whose message was not acked", g.part, g.seqs[0], want)
			}
		}
		order(t, last, g)
		for _, n := range g.seqs {
			if acked[n] {
				t.Fatalf("a new source emitted record %d again, though its message was acked and committed", n)
			}
			seen++
		}
		g.msg.Ack()
	}
	t.Logf("a new source emitted the %d records not acked", seen)
	r2.finish(ack)
	r2.close()
}

func (s sourceChecker) cancelledContext(t testing.TB) {
	_, input := s.input(t)
	r := s.subscribe(t, input)
	g, ok := r.next(wait)
	if !ok {
		t.Fatalf("the source emitted nothing within %v", wait)
	}
	g.msg.Ack()
	r.cancel()
	if err := r.finish(ack); err != nil {
		t.Errorf("Err after the Subscribe context was cancelled and every message acked: %v", err)
	}
	r.close()
}
