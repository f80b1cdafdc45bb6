package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestProgress: Options.Progress is called while the run goes, with counts
// that only grow and never pass the final summary, and never after Run
// returns.
func TestProgress(t *testing.T) {
	w := &world{}
	// Record 5 fails its first three writes, 50 ms apart: the run lasts
	// some 150 ms.
	p := pipeline(t, fmt.Sprintf(stages, "", "5", 3)+"\n[error_handling]\nstrategy = \"retry\"\nmax_retries = 5\nretry_delay_seconds = 0.05")
	var mu sync.Mutex
	var seen []Summary
	progress := func(s Summary) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	}
	sum, err := Run(context.Background(), p, Options{Registry: w.registry(), Progress: progress, ProgressInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	calls := len(seen)
	mu.Unlock()
	if calls < 2 {
		t.Fatalf("progress called %d times in %s, want several", calls, sum.Elapsed)
	}
	for i, s := range seen {
		if s.In > sum.In || s.Out > sum.Out || s.Elapsed > sum.Elapsed || (i > 0 && (s.In < seen[i-1].In || s.Out < seen[i-1].Out || s.Elapsed <= seen[i-1].Elapsed)) {
			t.Errorf("progress %d: %+v after %+v, final %+v", i, s, seen[max(i-1, 0)], sum)
		}
	}
	if seen[len(seen)-1].In == 0 {
		t.Errorf("progress never saw a record: %+v", seen)
	}
	time.Sleep(30 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != calls {
		t.Errorf("progress called %d times after Run returned", len(seen)-calls)
	}
}
