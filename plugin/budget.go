package plugin

import (
	"context"
	"sync"
)

// Budget bounds the bytes of records a run holds in flight, across all its
// sources: a source takes a batch's bytes before emitting it and gives them
// back once the batch is settled (committed, or given up). A source that
// cannot take them waits, and so stops fetching: memory stays bounded
// however many partitions a run reads. A nil *Budget is unlimited.
//
// Acquire and Release may be called from any goroutine.
type Budget struct {
	mu    sync.Mutex
	total int64
	used  int64
	freed chan struct{} // made by a waiting Acquire, closed by the next Release
}

// NewBudget returns a budget of total bytes (total > 0).
func NewBudget(total int64) *Budget {
	return &Budget{total: total}
}

// Acquire takes n bytes, waiting until they are free or ctx ends, and
// returns how many it took, to be given back with Release: n, or the whole
// budget when n is larger (so one huge batch still goes, alone).
func (b *Budget) Acquire(ctx context.Context, n int64) (int64, error) {
	if b == nil || n <= 0 {
		return 0, nil
	}
	n = min(n, b.total)
	for {
		b.mu.Lock()
		if b.used+n <= b.total {
			b.used += n
			b.mu.Unlock()
			return n, nil
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Release gives back n bytes taken by Acquire.
func (b *Budget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.freed != nil { // someone waits: wake them (no channel per Release otherwise)
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}

// Total is the budget's size in bytes; 0 for a nil (unlimited) budget.
func (b *Budget) Total() int64 {
	if b == nil {
		return 0
	}
	return b.total
}

// Used reports the bytes taken now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
