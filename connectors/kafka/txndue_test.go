package kafka

import (
	"errors"
	"testing"
	"time"
)

// TestTxnDue checks when a transaction closes: transaction_ms after it
// began whatever it holds; once it holds transaction_records records, but
// under a backlog not before it is (closeShare-1) times as old as a close
// costs, and never past transaction_ms; at once when spoiled.
func TestTxnDue(t *testing.T) {
	now := time.Now()
	const interval = 100 * time.Millisecond
	cases := []struct {
		name      string
		n         int
		age, cost time.Duration
		spoiled   bool
		want      time.Duration
	}{
		{"not full: at transaction_ms", 10, 30 * time.Millisecond, 0, false, 70 * time.Millisecond},
		{"not full, old: now", 10, 120 * time.Millisecond, 0, false, 0},
		{"full, no close measured yet: now", 1000, 1 * time.Millisecond, 0, false, 0},
		{"full, young for its close cost: grows", 1000, 10 * time.Millisecond, 10 * time.Millisecond, false, 80 * time.Millisecond},
		{"full, old enough for its close cost: now", 1000, 95 * time.Millisecond, 5 * time.Millisecond, false, 0},
		{"full, costly close: at transaction_ms at most", 1000, 20 * time.Millisecond, 60 * time.Millisecond, false, 80 * time.Millisecond},
		{"spoiled: now", 10, 1 * time.Millisecond, 10 * time.Millisecond, true, 0},
	}
	for _, c := range cases {
		tx := &txn{records: 1000, interval: interval, n: c.n, began: now.Add(-c.age), closeCost: c.cost}
		if c.spoiled {
			tx.spoiled = errors.New("a write failed")
		}
		if got := tx.due(now); got != c.want {
			t.Errorf("%s: due in %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTxnCloseCostAverages checks that closeCost follows the closes'
// durations: the first sets it, later ones move it an eighth of the way.
func TestTxnCloseCostAverages(t *testing.T) {
	tx := &txn{}
	tx.noteCloseCost(time.Now().Add(-80 * time.Millisecond))
	if tx.closeCost < 80*time.Millisecond || tx.closeCost > 200*time.Millisecond {
		t.Fatalf("first close cost %v, want about 80ms", tx.closeCost)
	}
	first := tx.closeCost
	tx.noteCloseCost(time.Now())
	if want := first - first/8; tx.closeCost > want+time.Millisecond || tx.closeCost < want-time.Millisecond {
		t.Fatalf("after a close of ~0: %v, want about %v", tx.closeCost, want)
	}
}

// TestTxnBackoff checks the transaction requests' retry waits: short at
// first (a new transaction's AddPartitionsToTxn waits for the last one's
// markers, a few ms), 100 ms at most, so that 50 retries still span
// about 5 s of a coordinator moving.
func TestTxnBackoff(t *testing.T) {
	var total time.Duration
	for i := range 50 {
		d := txnBackoff(i, 50)
		if i == 0 && d != 5*time.Millisecond {
			t.Errorf("first retry after %v, want 5ms", d)
		}
		if d > 100*time.Millisecond {
			t.Errorf("retry %d after %v, want at most 100ms", i, d)
		}
		total += d
	}
	if total < 4*time.Second {
		t.Errorf("50 retries span %v, want at least 4s", total)
	}
}
