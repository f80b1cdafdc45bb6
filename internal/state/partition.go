package state

import (
	"container/heap"
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

// The store's key spaces: a processor's keys, its timers, and the
// partition's own marks (watermark, and per origin the offset after the
// last record processed).
const (
	spaceUser   = 'u'
	spaceTimer  = 't'
	spaceMark   = 'm'
	markWM      = "mw"
	markClock   = "mc" // the Clock's checkpoint
	markOffsets = "mo" // followed by the origin
)

// partition is one input partition's state: the plugin.State a Processor
// gets. Only the goroutine processing the partition's batch uses it.
type partition struct {
	id     int32
	store  store
	timers timerHeap
	wm     int64 // fires timers
	view   int64 // what Process sees as Watermark (see Clock)
	clock  Clock // nil: wm is the partition's own maximum
	// Set while a batch is processed.
	out    []plugin.Record
	offset int64 // of the record being processed: emitted records carry it
	kb     []byte

	// next is, per origin, the offset after the last record processed.
	next map[string]int64
	// claim is the context of the last batch: when it has ended, the
	// partition's claim ended, and another member may have changed the
	// changelog since (see Stage.sync).
	claim context.Context
	// clEnd is the changelog offset the store reflects.
	clEnd int64
	// tail is closed once the changes of the last batch processed are
	// written (or abandoned); broken once one was abandoned.
	tail   chan struct{}
	broken bool
}

func newPartition(id int32) *partition {
	tail := make(chan struct{})
	close(tail)
	return &partition{id: id, store: newMemStore(), wm: math.MinInt64, view: math.MinInt64, next: map[string]int64{}, tail: tail}
}

// loadFrom takes the timers, watermark and offsets from a disk store
// reopened with what it held at its checkpoint.
func (p *partition) loadFrom(st store) {
	st.rangeKeys([]byte{spaceTimer}, []byte{spaceTimer + 1}, func(k, v []byte) bool {
		p.note(Change{Key: k, Value: v})
		return true
	})
	st.rangeKeys([]byte{spaceMark}, []byte{spaceMark + 1}, func(k, v []byte) bool {
		p.note(Change{Key: k, Value: v})
		return true
	})
}

// Partition implements plugin.State.
func (p *partition) Partition() int32 { return p.id }

// Watermark implements plugin.State.
func (p *partition) Watermark() int64 { return p.view }

func (p *partition) key(space byte, k []byte) []byte {
	p.kb = append(append(p.kb[:0], space), k...)
	return p.kb
}

// Get implements plugin.Store.
func (p *partition) Get(k []byte) ([]byte, bool) { return p.store.get(p.key(spaceUser, k)) }

// Put implements plugin.Store.
func (p *partition) Put(k, v []byte) { p.store.put(p.key(spaceUser, k), v) }

// Delete implements plugin.Store.
func (p *partition) Delete(k []byte) { p.store.del(p.key(spaceUser, k)) }

// Range implements plugin.Store.
func (p *partition) Range(from, to []byte, fn func(k, v []byte) bool) {
	lo := append([]byte{spaceUser}, from...)
	hi := []byte{spaceUser + 1}
	if to != nil {
		hi = append([]byte{spaceUser}, to...)
	}
	p.store.rangeKeys(lo, hi, func(k, v []byte) bool { return fn(k[1:], v) })
}

// Emit implements plugin.State.
func (p *partition) Emit(v []byte) {
	p.out = append(p.out, plugin.Record{Value: append([]byte(nil), v...), Offset: p.offset})
}

// timerKey is a timer's store key: its time in an order-keeping encoding,
// then the processor's key.
func (p *partition) timerKey(at int64, k []byte) []byte {
	p.kb = append(p.kb[:0], spaceTimer)
	p.kb = binary.BigEndian.AppendUint64(p.kb, uint64(at)^(1<<63))
	return append(p.kb, k...)
}

// SetTimer implements plugin.State.
func (p *partition) SetTimer(at int64, k []byte) {
	tk := p.timerKey(at, k)
	if _, ok := p.store.get(tk); ok {
		return
	}
	p.store.put(tk, timerMark)
	heap.Push(&p.timers, timer{at: at, key: string(k)})
}

// DeleteTimer implements plugin.State.
func (p *partition) DeleteTimer(at int64, k []byte) { p.store.del(p.timerKey(at, k)) }

// fire calls OnTimer for each timer the watermark reached, in order.
func (p *partition) fire(proc plugin.Processor) error {
	for len(p.timers) > 0 && p.timers[0].at <= p.wm {
		t := heap.Pop(&p.timers).(timer)
		tk := p.timerKey(t.at, []byte(t.key))
		if _, ok := p.store.get(tk); !ok {
			continue // deleted, or a second push of the same timer
		}
		p.store.del(tk)
		if err := proc.OnTimer(p, t.at, []byte(t.key)); err != nil {
			return err
		}
	}
	return nil
}

// load applies one restored change, rebuilding the timers and marks.
func (p *partition) load(c Change) {
	p.store.load(c.Key, c.Value)
	p.note(c)
}

// note takes a restored change's timer or mark into p's memory.
func (p *partition) note(c Change) {
	if len(c.Key) == 0 || c.Value == nil {
		return
	}
	switch k := string(c.Key); {
	case k[0] == spaceTimer && len(k) >= 9:
		at := int64(binary.BigEndian.Uint64(c.Key[1:9]) ^ (1 << 63))
		heap.Push(&p.timers, timer{at: at, key: k[9:]})
	case k == markWM && len(c.Value) == 8:
		p.wm = int64(binary.BigEndian.Uint64(c.Value))
		p.view = p.wm
	case k == markClock && p.clock != nil:
		_ = p.clock.Restore(c.Value, time.Now().UnixMilli()) // a checkpoint it cannot read: the clock starts afresh
	case len(k) > len(markOffsets) && k[:len(markOffsets)] == markOffsets && len(c.Value) == 8:
		p.next[k[len(markOffsets):]] = int64(binary.BigEndian.Uint64(c.Value))
	}
}

// mark records the watermark and the offset after origin's last record
// in the store, so that they are written with the batch's changes.
func (p *partition) mark(origin string, next int64) {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(p.wm))
	if old, ok := p.store.get([]byte(markWM)); !ok || string(old) != string(v[:]) {
		p.store.put([]byte(markWM), v[:])
	}
	if p.clock != nil {
		cp := p.clock.Checkpoint(p.kb[:0])
		if old, ok := p.store.get([]byte(markClock)); !ok || string(old) != string(cp) {
			p.store.put([]byte(markClock), cp)
		}
	}
	if next >= 0 {
		p.next[origin] = next
		binary.BigEndian.PutUint64(v[:], uint64(next))
		p.store.put(append([]byte(markOffsets), origin...), v[:])
	}
}

// timerMark is a timer's value in the store (a nil value is a deletion).
var timerMark = []byte{1}

type timer struct {
	at  int64
	key string
}

// timerHeap orders timers by time, then key.
type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].key < h[j].key)
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
