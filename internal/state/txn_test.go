package state

import (
	"context"
	"testing"
)

// txnLog is a transactional changelog in memory: writes are pending
// until commit, an abort discards them, and Read sees only what committed.
type txnLog struct {
	memLog
	open map[int32][]Change
}

func (l *txnLog) Transactional() bool { return true }

func (l *txnLog) Write(_ context.Context, p int32, cs []Change) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil {
		l.open = map[int32][]Change{}
	}
	l.open[p] = append(l.open[p], cs...)
	return int64(len(l.parts[p]) + len(l.open[p])), nil
}

func (l *txnLog) commit() {
	for p, cs := range l.open {
		_, _ = l.memLog.Write(context.Background(), p, cs)
	}
	l.open = nil
}

func (l *txnLog) abort() { l.open = nil }

// Exactly-once: a transaction aborts after the batch's changes were
// written into it (the window it closed was emitted in it too, and so
// discarded). The claim ends (an abort rewinds every claim) and the batch
// is read again: the state must be the committed one, so the batch counts
// once and the window is emitted again. Kept instead, the state had
// already counted the batch and skipped its records: the window was lost.
func TestExactlyOnceAbortRestoresWhatCommitted(t *testing.T) {
	log := &txnLog{}
	s := New("w", counter{}, func(context.Context) (Changelog, error) { return log, nil })
	claim1, end1 := context.WithCancel(context.Background())
	apply(t, s, claim1, batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":2}`))
	log.commit()
	eq(t, "the aborted batch", apply(t, s, claim1, batch(0, 2, `{"k":"a","t":3}`, `{"k":"a","t":20}`)), `{"w":"a|0","n":3}`)
	log.abort()
	end1()
	out := apply(t, s, context.Background(), batch(0, 2, `{"k":"a","t":3}`, `{"k":"a","t":20}`))
	eq(t, "read again after the abort", out, `{"w":"a|0","n":3}`)
	if d := s.Progress().Dropped; d != 1 {
		t.Errorf("%d partition states dropped, want 1", d)
	}
	log.commit()
	// A claim that ended with its transaction committed: the state
	// restored is the same, and nothing is counted twice.
	out = apply(t, s, context.Background(), batch(0, 4, `{"k":"a","t":21}`, `{"k":"a","t":40}`))
	eq(t, "after the commit", out, `{"w":"a|20","n":2}`)
}
