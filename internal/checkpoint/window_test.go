package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// step is one event of a table case: ack or nack batch i, or confirm a
// commit of offset n; after it the window's mark and length are checked.
type step struct {
	op       byte // 'a' ack, 'n' nack, 'c' committed
	i        int  // batch index for 'a' and 'n'; offset for 'c'
	mark     int64
	inWindow int
}

func TestWindowMarksInOrder(t *testing.T) {
	ranges := [][2]int64{{0, 9}, {10, 19}, {20, 29}, {35, 40}} // a gap, as compaction leaves
	cases := []struct {
		name  string
		hold  bool
		steps []step
	}{
		{"in order", false, []step{{'a', 0, 10, 3}, {'a', 1, 20, 2}, {'a', 2, 30, 1}, {'a', 3, 41, 0}}},
		{"reverse order: nothing marked until the first is acked", false, []step{
			{'a', 3, -1, 4}, {'a', 2, -1, 4}, {'a', 1, -1, 4}, {'a', 0, 41, 0}}},
		{"a hole in the middle holds the mark and the window", false, []step{
			{'a', 0, 10, 3}, {'a', 2, 10, 3}, {'a', 3, 10, 3}, {'a', 1, 41, 0}}},
		{"a nack stops the mark before it; later acks leave the window unmarked", false, []step{
			{'a', 0, 10, 3}, {'n', 1, 10, 2}, {'a', 2, 10, 1}, {'a', 3, 10, 0}}},
		{"acks after a nack ahead of them are not marked", false, []step{
			{'n', 1, -1, 4}, {'a', 2, -1, 4}, {'a', 3, -1, 4}, {'a', 0, 10, 0}}},
		{"a batch acked twice counts once", false, []step{{'a', 1, -1, 4}, {'a', 1, -1, 4}, {'a', 0, 20, 2}}},
		{"holding: marked batches stay until a commit covers them", true, []step{
			{'a', 0, 10, 4}, {'a', 1, 20, 4}, {'c', 10, 20, 3}, {'c', 15, 20, 3}, {'c', 20, 20, 2}, {'a', 3, 20, 2}, {'a', 2, 41, 2}, {'c', 41, 41, 0}}},
		{"holding: a nacked batch and those after it leave without a commit", true, []step{
			{'a', 0, 10, 4}, {'n', 1, 10, 4}, {'a', 2, 10, 4}, {'c', 10, 10, 1}, {'a', 3, 10, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := New(len(ranges))
			w.Hold(c.hold)
			var released []int64
			batches := make([]*Batch, len(ranges))
			for i, r := range ranges {
				b, err := w.Track(context.Background(), r[0], r[1], func() { released = append(released, r[0]) })
				if err != nil {
					t.Fatal(err)
				}
				batches[i] = b
			}
			for k, s := range c.steps {
				switch s.op {
				case 'a':
					batches[s.i].Ack()
				case 'n':
					batches[s.i].Nack()
				case 'c':
					w.Committed(int64(s.i))
				}
				mark, _ := w.Pending()
				if mark != s.mark || w.Len() != s.inWindow {
					t.Fatalf("after step %d (%c %d): mark %d with %d batches in the window, want mark %d with %d", k, s.op, s.i, mark, w.Len(), s.mark, s.inWindow)
				}
			}
			for i := 1; i < len(released); i++ {
				if released[i] <= released[i-1] {
					t.Fatalf("batches released out of order: %v", released)
				}
			}
		})
	}
}

func TestWindowAckReportsMove(t *testing.T) {
	w := New(4)
	a, _ := w.Track(context.Background(), 0, 4, nil)
	b, _ := w.Track(context.Background(), 5, 9, nil)
	if mark, moved := b.Ack(); moved || mark != -1 {
		t.Fatalf("ack of the second batch first: mark %d moved %v, want -1 false", mark, moved)
	}
	if mark, moved := a.Ack(); !moved || mark != 10 {
		t.Fatalf("ack of the first batch: mark %d moved %v, want 10 true (both batches)", mark, moved)
	}
	if mark, ok := w.Pending(); !ok || mark != 10 {
		t.Fatalf("Pending = %d %v, want 10 true", mark, ok)
	}
	w.Committed(10)
	if _, ok := w.Pending(); ok {
		t.Fatal("Pending after a commit of the mark: want nothing pending")
	}
}

func TestWindowTrackRefusesOutOfOrder(t *testing.T) {
	w := New(4)
	if _, err := w.Track(context.Background(), 10, 19, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{5, 8}, {19, 25}, {30, 29}, {-1, 3}} {
		if _, err := w.Track(context.Background(), r[0], r[1], nil); err == nil {
			t.Errorf("Track(%d, %d) after 10-19: want an error", r[0], r[1])
		}
	}
}

// trackAsync starts Track in a goroutine and returns its result channel.
func trackAsync(ctx context.Context, w *Window, first, last int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := w.Track(ctx, first, last, nil)
		done <- err
	}()
	return done
}

func blocked(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s: Track returned (%v) while the window was full", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

func returned(t *testing.T, done <-chan error, want error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("%s: Track returned %v, want %v", what, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: Track still blocked", what)
	}
}

func TestWindowCapacityBlocksUntilRelease(t *testing.T) {
	w := New(2)
	a, _ := w.Track(context.Background(), 0, 0, nil)
	b, _ := w.Track(context.Background(), 1, 1, nil)
	done := trackAsync(context.Background(), w, 2, 2)
	blocked(t, done, "full window")
	b.Ack() // out of order: a still holds its place, and b its own behind it
	blocked(t, done, "second batch acked before the first")
	a.Ack()
	returned(t, done, nil, "both acked")

	// Holding: an acked batch keeps its place until its commit.
	w = New(1)
	w.Hold(true)
	a, _ = w.Track(context.Background(), 0, 0, nil)
	done = trackAsync(context.Background(), w, 1, 1)
	a.Ack()
	blocked(t, done, "acked, not committed")
	w.Committed(1)
	returned(t, done, nil, "commit confirmed")

	// A window that stops holding (the commits are over) lets it go.
	w = New(1)
	w.Hold(true)
	a, _ = w.Track(context.Background(), 0, 0, nil)
	a.Ack()
	done = trackAsync(context.Background(), w, 1, 1)
	blocked(t, done, "acked, not committed")
	w.Hold(false)
	returned(t, done, nil, "no longer holding")
}

func TestWindowTrackCancel(t *testing.T) {
	w := New(1)
	if _, err := w.Track(context.Background(), 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := trackAsync(ctx, w, 1, 1)
	blocked(t, done, "full window")
	cancel()
	returned(t, done, context.Canceled, "ctx cancelled")
	if w.Len() != 1 {
		t.Fatalf("a cancelled Track left %d batches in the window, want 1", w.Len())
	}
	// An ended ctx fails at once even with room.
	w = New(1)
	if _, err := w.Track(ctx, 0, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Track with an ended ctx: %v, want context.Canceled", err)
	}
}

func TestWindowWaitAndAbandon(t *testing.T) {
	w := New(4)
	w.Hold(true)
	var released atomic.Int32
	a, _ := w.Track(context.Background(), 0, 9, func() { released.Add(1) })
	b, _ := w.Track(context.Background(), 10, 19, func() { released.Add(1) })
	a.Ack()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a batch in flight: %v, want the deadline", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- w.Wait(context.Background()) }()
	w.Abandon()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return when the window was abandoned")
	}
	if n := released.Load(); n != 2 {
		t.Fatalf("Abandon released %d batches, want 2", n)
	}
	b.Ack() // late: the run is over
	if mark, _ := w.Pending(); mark != 10 {
		t.Fatalf("mark after a late ack of an abandoned batch: %d, want 10 (kept from before)", mark)
	}
	if n := released.Load(); n != 2 {
		t.Fatalf("a late ack released again: %d releases", n)
	}
	// The next run reads again from the commit, below the old mark.
	c, err := w.Track(context.Background(), 0, 9, nil)
	if err != nil {
		t.Fatalf("Track after Abandon, from an earlier offset: %v", err)
	}
	if mark, moved := c.Ack(); moved || mark != 10 {
		t.Fatalf("re-read batch acked: mark %d moved %v, want 10 false (never backwards)", mark, moved)
	}
}

// TestWindowRandomAcks tracks batches from one goroutine while others ack
// (and sometimes nack) them in random order, with and without a committer
// confirming commits. Every mark an Ack returns must only cover batches
// acked before it; in the end the mark reaches the end of the last batch,
// or stops exactly at the first nacked batch.
func TestWindowRandomAcks(t *testing.T) {
	for _, c := range []struct {
		name       string
		capacity   int
		hold, nack bool
	}{
		{"window 1", 1, false, false},
		{"window 4", 4, false, false},
		{"window 64", 64, false, false},
		{"window 4 holding", 4, true, false},
		{"window 16 holding", 16, true, false},
		{"window 8 with a nack", 8, false, true},
		{"window 8 holding with a nack", 8, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(20) {
				randomRun(t, seed, c.capacity, c.hold, c.nack)
			}
		})
	}
}

// tracked is a batch of a random run: its range fixed before the run, its
// ack recorded before Ack is called.
type tracked struct {
	first, last int64
	b           *Batch
	acked       atomic.Bool
	settled     atomic.Bool // acked or nacked: set before Ack or Nack
	released    atomic.Bool
}

func randomRun(t *testing.T, seed uint64, capacity int, hold, nack bool) {
	rng := rand.New(rand.NewPCG(seed, 1))
	const n = 300
	all := make([]*tracked, n)
	off := int64(0)
	for i := range all {
		first := off + int64(rng.IntN(2)) // sometimes a gap
		all[i] = &tracked{first: first, last: first + int64(rng.IntN(5))}
		off = all[i].last + 1
	}
	nackAt := -1
	if nack {
		nackAt = rng.IntN(n)
	}
	w := New(capacity)
	w.Hold(hold)
	var (
		mu  sync.Mutex
		bad []string
	)
	report := func(s string) {
		mu.Lock()
		bad = append(bad, s)
		mu.Unlock()
	}
	settle := func(x *tracked) {
		x.settled.Store(true)
		if x == all[max(nackAt, 0)] && nackAt >= 0 {
			x.b.Nack()
			return
		}
		x.acked.Store(true)
		mark, _ := x.b.Ack()
		for _, y := range all { // the mark covers acked batches only
			if y.first >= mark {
				break
			}
			if !y.acked.Load() {
				report(fmt.Sprintf("mark %d passed batch %d-%d, not acked", mark, y.first, y.last))
				return
			}
		}
	}
	queue := make(chan *tracked, n)
	var ackers sync.WaitGroup
	for k := range 4 {
		ackers.Add(1)
		r := rand.New(rand.NewPCG(seed, 2+uint64(k)))
		go func() {
			defer ackers.Done()
			var held []*tracked
			for {
				var x *tracked
				var ok bool
				select {
				case x, ok = <-queue:
				default:
					// Nothing new: the tracker may wait for room that only
					// the batches held here can make.
					r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
					for _, y := range held {
						settle(y)
					}
					held = held[:0]
					x, ok = <-queue
				}
				if !ok {
					break
				}
				held = append(held, x)
				for len(held) > 0 && r.IntN(3) > 0 { // settle a random one held, now or later
					j := r.IntN(len(held))
					y := held[j]
					held = append(held[:j], held[j+1:]...)
					settle(y)
				}
			}
			r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
			for _, y := range held {
				settle(y)
			}
		}()
	}
	stopCommits := make(chan struct{})
	var committer sync.WaitGroup
	if hold {
		committer.Add(1)
		r := rand.New(rand.NewPCG(seed, 99))
		go func() {
			defer committer.Done()
			for {
				if mark, ok := w.Pending(); ok {
					w.Committed(mark)
				}
				select {
				case <-stopCommits:
					return
				case <-time.After(time.Duration(r.IntN(200)) * time.Microsecond):
				}
			}
		}()
	}
	for _, x := range all {
		b, err := w.Track(context.Background(), x.first, x.last, func() {
			// released once, and only once settled
			if x.released.Swap(true) {
				report(fmt.Sprintf("batch %d-%d released twice", x.first, x.last))
			}
			if !x.settled.Load() {
				report(fmt.Sprintf("batch %d-%d released before it was acked or nacked", x.first, x.last))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.Len(); got > capacity {
			report(fmt.Sprintf("%d batches in a window of %d", got, capacity))
		}
		x.b = b
		queue <- x
	}
	close(queue)
	ackers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("seed %d: %d batches left in the window after all were settled: %v", seed, w.Len(), err)
	}
	close(stopCommits)
	committer.Wait()
	if len(bad) > 0 {
		t.Fatalf("seed %d: %s", seed, bad[0])
	}
	want := off
	switch {
	case nackAt == 0:
		want = -1
	case nackAt > 0:
		want = all[nackAt-1].last + 1
	}
	for _, x := range all {
		if !x.released.Load() {
			t.Fatalf("seed %d: batch %d-%d never released", seed, x.first, x.last)
		}
	}
	if mark, _ := w.Pending(); mark != want {
		t.Fatalf("seed %d: final mark %d, want %d", seed, mark, want)
	}
}
