package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// table is a compacted topic read into memory and kept up to date: the
// rows of table.join. Each partition is read by a goroutine of its own
// from its oldest offset, for as long as the table is open; it is loaded
// once read up to the end offset it had when its reading started.
//
// Lookups (get) may run on any number of goroutines while rows are
// updated. A row's bytes are never changed once stored (an update stores
// new bytes), so a caller may keep using what get returned.
type table struct {
	topic    string
	client   sarama.Client
	consumer sarama.Consumer
	log      *zap.Logger
	parts    []*tablePart // by partition number
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	rows     atomic.Int64 // over every store
	updates  atomic.Int64 // messages applied after a partition was loaded
	// What the loading partitions have read: loading counts the partitions
	// started and not loaded yet (nor failed); toRead the offsets from each
	// partition's oldest to the end offset it had at start, read those
	// behind the last message delivered (all of them once loaded).
	loading, read, toRead atomic.Int64
}

// progress is how far the table's loading has got.
func (t *table) progress() plugin.Loading {
	return plugin.Loading{Parts: t.loading.Load(), Done: t.read.Load(), Total: t.toRead.Load(), What: fmt.Sprintf("table topic %q", t.topic)}
}

// tablePart is one partition of the table and the store its rows go to:
// the table's one store (global scope) or its own (partitioned).
type tablePart struct {
	once   sync.Once
	loaded chan struct{} // closed when read up to its end offset, or failed
	err    error         // why it failed, set before loaded is closed
	store  *rowStore
}

type rowStore struct {
	mu   sync.RWMutex
	rows map[string][]byte
}

func (s *rowStore) get(key []byte) ([]byte, bool) {
	s.mu.RLock()
	v, ok := s.rows[string(key)] // a lookup that does not allocate
	s.mu.RUnlock()
	return v, ok
}

// newTable opens the table's n partitions, one store for all (shared) or
// one each; reading starts with start.
func newTable(client sarama.Client, topic string, n int, shared bool, log *zap.Logger) (*table, error) {
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	t := emptyTable(topic, n, shared)
	t.client, t.consumer, t.log = client, consumer, log
	return t, nil
}

// emptyTable is a table of n partitions without rows, not reading.
func emptyTable(topic string, n int, shared bool) *table {
	ctx, cancel := context.WithCancel(context.Background())
	t := &table{topic: topic, ctx: ctx, cancel: cancel}
	one := &rowStore{rows: map[string][]byte{}}
	for range n {
		s := one
		if !shared {
			s = &rowStore{rows: map[string][]byte{}}
		}
		t.parts = append(t.parts, &tablePart{loaded: make(chan struct{}), store: s})
	}
	return t
}

// memoryTable is a table of n partitions, loaded, that reads no Kafka: its
// rows are applied by the caller.
func memoryTable(topic string, n int, shared bool) *table {
	t := emptyTable(topic, n, shared)
	for _, tp := range t.parts {
		close(tp.loaded)
		tp.once.Do(func() {}) // never read from Kafka
	}
	return t
}

// start starts reading partition p (0 <= p < len(parts)), if not
// started yet.
func (t *table) start(p int32) *tablePart {
	tp := t.parts[p]
	tp.once.Do(func() {
		t.loading.Add(1)
		t.wg.Add(1)
		go t.follow(p, tp)
	})
	return tp
}

// load starts reading partition p, if not started yet, and waits until it
// is loaded, ctx ends or timeout passes.
func (t *table) load(ctx context.Context, p int32, timeout time.Duration) error {
	if p < 0 || int(p) >= len(t.parts) {
		return fmt.Errorf("table topic %q has no partition %d", t.topic, p)
	}
	tp := t.start(p)
	select {
	case <-tp.loaded:
		return tp.err
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-tp.loaded:
		return tp.err
	case <-timer.C:
		return fmt.Errorf("table topic %q partition %d not read up to its end offset within load_timeout_ms (%v)", t.topic, p, timeout)
	case <-ctx.Done():
		return ctx.Err()
	case <-t.ctx.Done():
		return fmt.Errorf("table topic %q: closed", t.topic)
	}
}

// settleEvery is how often a partition consumer that has fetched up to the
// end offset without delivering a record at it asks the log whether the
// offsets left hold any record it would deliver (see loadedAt).
const settleEvery = 250 * time.Millisecond

// follow reads partition p into its store until the table is closed.
func (t *table) follow(p int32, tp *tablePart) {
	defer t.wg.Done()
	loaded := false
	finish := func(err error) { // loaded, or failed
		loaded, tp.err = true, err
		t.loading.Add(-1)
		close(tp.loaded)
	}
	defer func() {
		if !loaded {
			t.loading.Add(-1) // closed while loading
		}
	}()
	fail := func(err error) { finish(fmt.Errorf("table topic %q partition %d: %w", t.topic, p, err)) }
	end, err := t.client.GetOffset(t.topic, p, sarama.OffsetNewest)
	if err != nil {
		fail(err)
		return
	}
	oldest, err := t.client.GetOffset(t.topic, p, sarama.OffsetOldest)
	if err != nil {
		fail(err)
		return
	}
	pc, err := t.consumer.ConsumePartition(t.topic, p, sarama.OffsetOldest)
	if err != nil {
		fail(err)
		return
	}
	defer pc.AsyncClose()
	started := time.Now()
	t.toRead.Add(max(end-oldest, 0))
	next := oldest // the offset after the last message delivered
	markLoaded := func() {
		t.read.Add(max(end-next, 0)) // what compaction, markers or aborts left out
		finish(nil)
	}
	if oldest >= end {
		finish(nil)
	}
	tick := time.NewTicker(settleEvery)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return
			}
			t.apply(tp.store, m)
			if loaded {
				t.updates.Add(1)
				next = m.Offset + 1
				continue
			}
			t.read.Add(min(m.Offset+1, end) - next)
			next = m.Offset + 1
			if next >= end {
				markLoaded()
				t.log.Debug("table partition loaded", zap.Int32("partition", p), zap.Int64("end_offset", end), zap.Duration("took", time.Since(started)))
			}
		case err := <-pc.Errors():
			if err != nil {
				t.log.Warn("reading the table topic", zap.Int32("partition", p), zap.Error(err))
			}
		case <-tick.C:
			if loaded || pc.HighWaterMarkOffset() < end || len(pc.Messages()) > 0 {
				continue
			}
			if t.loadedAt(p, next, end) {
				t.log.Debug("table partition loaded: its last offsets hold no record", zap.Int32("partition", p), zap.Int64("end_offset", end))
				markLoaded()
			}
		case <-t.ctx.Done():
			return
		}
	}
}

// loadedAt reports that partition p's log holds no record the consumer
// would deliver in [next, end): only transaction markers, aborted records
// or compacted-away offsets, so no delivered record will ever reach end.
// It reads the log; an error counts as not yet (the next tick asks again).
func (t *table) loadedAt(p int32, next, end int64) bool {
	span, err := kafkautil.Deliverable(t.client, t.topic, p, next, end, t.client.Config().Consumer.IsolationLevel, true)
	if err != nil {
		t.log.Debug("table partition: reading its last offsets", zap.Int32("partition", p), zap.Error(err))
		return false
	}
	return span.Records == 0 && span.Complete
}

// apply stores (or, for a tombstone, deletes) the row of one message. A
// value that is not JSON is stored as a JSON string of its text.
func (t *table) apply(s *rowStore, m *sarama.ConsumerMessage) {
	key := string(m.Key)
	if m.Value == nil {
		s.mu.Lock()
		if _, ok := s.rows[key]; ok {
			delete(s.rows, key)
			t.rows.Add(-1)
		}
		s.mu.Unlock()
		return
	}
	v, ok := record.AppendCompact(nil, m.Value)
	if !ok || len(v) == 0 {
		v = record.AppendString(nil, string(m.Value))
	}
	s.mu.Lock()
	if _, ok := s.rows[key]; !ok {
		t.rows.Add(1)
	}
	s.rows[key] = v
	s.mu.Unlock()
}

// close stops reading and releases the client.
func (t *table) close() error {
	t.cancel()
	t.wg.Wait()
	if t.consumer == nil {
		return nil // a memory table
	}
	err := t.consumer.Close()
	if cerr := t.client.Close(); err == nil {
		err = cerr
	}
	return err
}
