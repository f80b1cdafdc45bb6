// Package emitter turns a sequential reader of records into a plugin.Source:
// batches emitted in order, at most a window of them in flight, progress
// advanced only over acked batches, Done once everything read was acked.
// The file source uses it; any source that reads one stream can.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/plugin"
)

// emitted is a batch waiting for its ack, with its number of records.
type emitted struct {
	msg *message.Message
	n   int
}

// ErrStop is returned by a ReadFunc at the end of its input.
var ErrStop = errors.New("end of input")

// ReadFunc appends up to max records to batch and returns it; it returns
// ErrStop (possibly with a last partial batch) at the end of the input and
// any other error to fail the source.
type ReadFunc func(batch []plugin.Record, max int) ([]plugin.Record, error)

// Source is a plugin.Source over a ReadFunc.
type Source struct {
	origin    string
	read      ReadFunc
	batchSize int
	window    chan emitted
	out       chan *message.Message
	closeFn   func() error
	*lifecycle.State
	mu      sync.Mutex // guards closeFn
	records atomic.Int64
	acked   atomic.Int64
	bytes   atomic.Int64
}

// New makes a source that emits batches of batchSize with at most window in
// flight. origin names the input in batches and errors; closeFn (may be
// nil) releases the input.
func New(origin string, batchSize, window int, read ReadFunc, closeFn func() error) *Source {
	return &Source{origin: origin, read: read, batchSize: batchSize, window: make(chan emitted, window),
		out: make(chan *message.Message), closeFn: closeFn, State: lifecycle.New()}
}

// Subscribe starts reading.
func (s *Source) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	watched := make(chan struct{})
	go s.watch(watched)
	go s.loop(watched)
	return s.out, nil
}

func (s *Source) loop(watched <-chan struct{}) {
	defer close(s.out)
	for seq := 0; ; seq++ {
		select {
		case <-s.Stopping():
			close(s.window)
			<-watched
			s.Finish()
			return
		default:
		}
		recs, err := s.read(make([]plugin.Record, 0, s.batchSize), s.batchSize)
		if len(recs) > 0 {
			msg := plugin.Batch{Records: recs, Origin: s.origin}.Message(s.origin + "-" + strconv.Itoa(seq))
			s.window <- emitted{msg, len(recs)}
			s.out <- msg
			s.records.Add(int64(len(recs)))
			for _, r := range recs {
				s.bytes.Add(int64(len(r.Value)))
			}
		}
		if errors.Is(err, ErrStop) {
			s.Stop()
		} else if err != nil {
			s.Fail(err)
		}
	}
}

// watch waits for acks in emission order; a nack fails the source. Stop
// ends reading after the current batch; Done is closed when reading
// stopped and every batch was acked or nacked; Err is the read error or
// nack that stopped the source (lifecycle.State).
func (s *Source) watch(done chan<- struct{}) {
	defer close(done)
	for e := range s.window {
		select {
		case <-e.msg.Acked():
			s.acked.Add(int64(e.n))
		case <-e.msg.Nacked():
			s.Fail(fmt.Errorf("%s: batch %s failed", s.origin, e.msg.UUID))
		}
	}
}

// Commit has nothing to record: a file has no committed position.
func (s *Source) Commit(context.Context) error { return nil }

// Stats counts the records emitted.
func (s *Source) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// Close releases the input.
func (s *Source) Close() error {
	s.Stop()
	// The router and the runner may both close the source, concurrently.
	s.mu.Lock()
	fn := s.closeFn
	s.closeFn = nil
	s.mu.Unlock()
	if fn != nil {
		return fn()
	}
	return nil
}
