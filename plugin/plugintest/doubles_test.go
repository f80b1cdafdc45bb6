package plugintest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/emitter"
	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// The doubles of this file are small functions, one correct and others
// each broken in one way, to show that each check of the suite can fail,
// and fails for the defect it names.

// failedChecks returns the names of the checks err reports, sorted.
func failedChecks(err error) []string {
	if err == nil {
		return nil
	}
	var names []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if name, _, ok := strings.Cut(line, ": "); ok && !strings.Contains(name, " ") && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// wantFailed checks that exactly the checks named in want failed.
func wantFailed(t *testing.T, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Logf("the suite said:\n%v", err)
	}
	if got := failedChecks(err); !slices.Equal(got, want) {
		t.Errorf("failed checks %v, want %v; the suite said:\n%v", got, want, err)
	}
}

// --- operators ---

// evens keeps the records with an even "seq" and fails those whose seq
// ends in 9: a correct operator.
func evens(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	for i, r := range in {
		switch n := seqOf(r.Value); {
		case n%10 == 9:
			fail(i, fmt.Errorf("seq %d ends in 9", n))
		case n%2 == 0:
			out = append(out, r)
		}
	}
	return out
}

func seqOf(v []byte) int {
	var n int
	i := bytes.Index(v, []byte(`"seq":`))
	fmt.Sscanf(string(v[i+6:]), "%d", &n)
	return n
}

func TestOperatorDoubles(t *testing.T) {
	newOp := func(op plugin.OperatorFunc) func(testing.TB) plugin.Operator {
		return func(testing.TB) plugin.Operator { return op }
	}
	t.Run("correct", func(t *testing.T) {
		wantFailed(t, plugintest.CheckOperator(plugintest.OperatorCase{New: newOp(evens)}))
	})
	t.Run("overwrites out", func(t *testing.T) {
		op := func(in, out []plugin.Record, fail func(int, error)) []plugin.Record { return evens(in, out[:0], fail) }
		wantFailed(t, plugintest.CheckOperator(plugintest.OperatorCase{New: newOp(op)}), "appends")
	})
	t.Run("index past in", func(t *testing.T) {
		op := func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
			return evens(in, out, func(i int, err error) { fail(i+1, err) })
		}
		// OperatorMiddleware indexes in with it, and panics.
		wantFailed(t, plugintest.CheckOperator(plugintest.OperatorCase{New: newOp(op)}), "fail-index", "middleware")
	})
	t.Run("keeps in", func(t *testing.T) {
		// Through the middleware, it returns the records it kept, with their
		// offsets, for the middleware's batch.
		wantFailed(t, plugintest.CheckOperator(plugintest.OperatorCase{New: func(testing.TB) plugin.Operator { return &memo{} }}), "keeps-no-slice", "middleware")
	})
}

// memo remembers the first input it is given and, for a later input of
// the same length, takes it to be the same: it keeps in.
type memo struct {
	mu   sync.Mutex
	seen []plugin.Record
}

func (m *memo) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	m.mu.Lock()
	if m.seen == nil || len(m.seen) != len(in) {
		m.seen = in
	}
	seen := m.seen
	m.mu.Unlock()
	return evens(seen, out, fail)
}

// --- sinks ---

// memSink holds what it was given, durable at once; it fails records
// holding "refuse", one by one.
type memSink struct {
	mu   sync.Mutex
	recs [][]byte
	// late makes Publish return before the records are held.
	late bool
	// perMessage makes WriteError indexes count from each message's first
	// record rather than the call's.
	perMessage bool
}

func (s *memSink) Publish(_ string, msgs ...*message.Message) error {
	if s.perMessage {
		for _, m := range msgs {
			if err := plugin.PublishBySend(s, []*message.Message{m}); err != nil {
				return err
			}
		}
		return nil
	}
	if s.late {
		recs, err := plugin.RecordsOf(msgs)
		if err != nil {
			return err
		}
		go func() { time.Sleep(50 * time.Millisecond); s.Send(context.Background(), recs) }()
		return nil
	}
	return plugin.PublishBySend(s, msgs)
}

func (s *memSink) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var werr plugin.WriteError
	for i, r := range recs {
		if bytes.Contains(r.Value, []byte("refuse")) {
			werr.Failed, werr.Errs = append(werr.Failed, i), append(werr.Errs, errors.New("refused"))
			continue
		}
		s.recs = append(s.recs, bytes.Clone(r.Value))
	}
	if len(werr.Failed) > 0 {
		return plugin.Done{Err: &werr}
	}
	return plugin.Done{}
}

func (s *memSink) Close() error { return nil }

func (s *memSink) readBack(testing.TB) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

func sinkCase(late, perMessage bool) plugintest.SinkCase {
	return plugintest.SinkCase{
		New: func(testing.TB) (plugin.Sink, plugintest.ReadBack) {
			s := &memSink{late: late, perMessage: perMessage}
			return s, s.readBack
		},
		Failing: []byte(`{"refuse":1}`),
	}
}

func TestSinkDoubles(t *testing.T) {
	t.Run("correct", func(t *testing.T) { wantFailed(t, plugintest.CheckSink(sinkCase(false, false))) })
	t.Run("returns before durable", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSink(sinkCase(true, false)), "concurrent-order", "publish-durable", "sender", "write-error")
	})
	t.Run("indexes per message", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSink(sinkCase(false, true)), "write-error")
	})
}

// --- sources ---

// fileSource is a correct source: internal/emitter over records in
// memory, as json.read is over a file.
func fileSource(records [][]byte) plugin.Source {
	i := 0
	return emitter.New("mem", 20, 4, func(batch []plugin.Record, max int) ([]plugin.Record, error) {
		for len(batch) < max && i < len(records) {
			batch = append(batch, plugin.Record{Value: records[i], Offset: int64(i)})
			i++
		}
		if i == len(records) {
			return batch, emitter.ErrStop
		}
		return batch, nil
	}, nil)
}

func sourceCase(wrap func(plugin.Source) plugin.Source) plugintest.SourceCase {
	return plugintest.SourceCase{Input: func(_ testing.TB, records [][]byte) plugintest.NewSource {
		return func(context.Context) (plugin.Source, error) { return wrap(fileSource(records)), nil }
	}}
}

func TestSourceDoubles(t *testing.T) {
	t.Run("correct", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSource(sourceCase(func(s plugin.Source) plugin.Source { return s })))
	})
	t.Run("done at stop", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSource(sourceCase(func(s plugin.Source) plugin.Source { return newDoneAtStop(s) })), "stop-waits")
	})
	t.Run("second message first", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSource(sourceCase(func(s plugin.Source) plugin.Source { return &swapped{Source: s} })), "emit")
	})
	t.Run("nack taken as ack", func(t *testing.T) {
		wantFailed(t, plugintest.CheckSource(sourceCase(func(s plugin.Source) plugin.Source { return &nackAsAck{Source: s} })), "nack")
	})
}

// doneAtStop closes Done as soon as Stop is called, messages in flight
// or not (or when its source is done).
type doneAtStop struct {
	plugin.Source
	once sync.Once
	done chan struct{}
}

func newDoneAtStop(s plugin.Source) *doneAtStop {
	d := &doneAtStop{Source: s, done: make(chan struct{})}
	go func() { <-s.Done(); d.once.Do(func() { close(d.done) }) }()
	return d
}

func (d *doneAtStop) Stop()                 { d.Source.Stop(); d.once.Do(func() { close(d.done) }) }
func (d *doneAtStop) Done() <-chan struct{} { return d.done }
func (d *doneAtStop) Err() error            { return d.Source.(plugin.Failer).Err() }

// nackAsAck hands out copies of its source's messages and acks the
// original when a copy is nacked: a nack skips the records.
type nackAsAck struct{ plugin.Source }

func (n *nackAsAck) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := n.Source.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for m := range in {
			c := m.Copy()
			go func() {
				select {
				case <-c.Acked():
				case <-c.Nacked():
				}
				m.Ack()
			}()
			out <- c
		}
	}()
	return out, nil
}

func (n *nackAsAck) Err() error { return n.Source.(plugin.Failer).Err() }

// memLog is an input that records how far its sources committed.
type memLog struct {
	mu        sync.Mutex
	records   [][]byte
	committed int
}

// progress is a source over the records of a memLog past its committed
// position; Commit records the records acked in order, or, when
// countEmitted is set, every record emitted, acked or not.
type progress struct {
	plugin.Source
	log          *memLog
	countEmitted bool

	mu               sync.Mutex
	acked, emitted   int
	watching         sync.WaitGroup
	stalled          bool // a message was nacked: nothing after it is progress
	pending, settled []chan struct{}
}

func resumableCase(countEmitted bool) plugintest.SourceCase {
	return plugintest.SourceCase{Resumes: true, Input: func(_ testing.TB, records [][]byte) plugintest.NewSource {
		log := &memLog{records: records}
		return func(context.Context) (plugin.Source, error) {
			log.mu.Lock()
			rest := log.records[log.committed:]
			log.mu.Unlock()
			return &progress{Source: fileSource(rest), log: log, countEmitted: countEmitted}, nil
		}
	}}
}

func (p *progress) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := p.Source.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	prev := make(chan struct{})
	close(prev)
	go func() {
		defer close(out)
		for m := range in {
			b, _ := plugin.DecodeBatch(m)
			n := len(b.Records)
			c := m.Copy()
			mine := make(chan struct{})
			p.watching.Add(1)
			go func(prev <-chan struct{}) { // settles in emission order
				defer p.watching.Done()
				defer close(mine)
				select {
				case <-c.Acked():
					<-prev
					p.mu.Lock()
					if !p.stalled {
						p.acked += n
					}
					p.mu.Unlock()
					m.Ack()
				case <-c.Nacked():
					<-prev
					p.mu.Lock()
					p.stalled = true
					p.mu.Unlock()
					m.Nack()
				}
			}(prev)
			prev = mine
			p.mu.Lock()
			p.emitted += n
			p.mu.Unlock()
			out <- c
		}
	}()
	return out, nil
}

func (p *progress) Err() error { return p.Source.(plugin.Failer).Err() }

func (p *progress) Commit(context.Context) error {
	p.watching.Wait()
	p.mu.Lock()
	n := p.acked
	if p.countEmitted {
		n = p.emitted
	}
	p.mu.Unlock()
	p.log.mu.Lock()
	p.log.committed += n
	p.log.mu.Unlock()
	return nil
}

func TestResumableSourceDoubles(t *testing.T) {
	t.Run("correct", func(t *testing.T) { wantFailed(t, plugintest.CheckSource(resumableCase(false))) })
	t.Run("commits what was emitted", func(t *testing.T) {
		// The nack check sees the same defect: progress passed the nack.
		wantFailed(t, plugintest.CheckSource(resumableCase(true)), "nack", "resume")
	})
}

// swapped emits its source's second message before its first.
type swapped struct{ plugin.Source }

func (s *swapped) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := s.Source.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		var first *message.Message
		n := 0
		for m := range in {
			n++
			switch n {
			case 1:
				first = m
			case 2:
				out <- m
				out <- first
			default:
				out <- m
			}
		}
		if n == 1 {
			out <- first
		}
	}()
	return out, nil
}

func (s *swapped) Err() error { return s.Source.(plugin.Failer).Err() }
