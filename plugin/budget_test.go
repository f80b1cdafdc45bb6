package plugin

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBudgetBlocksUntilReleased(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	if n, err := b.Acquire(ctx, 60); n != 60 || err != nil {
		t.Fatalf("Acquire(60) = %d, %v", n, err)
	}
	got := make(chan int64)
	go func() {
		n, _ := b.Acquire(ctx, 60) // 120 > 100: waits
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("second Acquire(60) of a 100-byte budget took %d bytes without waiting", n)
	case <-time.After(50 * time.Millisecond):
	}
	b.Release(60)
	select {
	case n := <-got:
		if n != 60 || b.Used() != 60 {
			t.Fatalf("after Release: took %d, used %d; want 60, 60", n, b.Used())
		}
	case <-time.After(time.Second):
		t.Fatal("Acquire still waiting after Release")
	}
}

func TestBudgetClampsALargeRequestAndHonoursContext(t *testing.T) {
	b := NewBudget(100)
	n, err := b.Acquire(context.Background(), 1000)
	if n != 100 || err != nil {
		t.Fatalf("Acquire(1000) of a 100-byte budget = %d, %v; want the whole budget", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a spent budget with a deadline: %v", err)
	}
	var none *Budget
	if n, err := none.Acquire(context.Background(), 5); n != 0 || err != nil {
		t.Fatalf("nil budget: %d, %v", n, err)
	}
	none.Release(5)
}
