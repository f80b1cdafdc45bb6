package backoff

import (
	"testing"
	"time"
)

func TestExpDoublesUpToTheCap(t *testing.T) {
	ms := time.Millisecond
	for n, want := range map[int]time.Duration{0: 100 * ms, 1: 100 * ms, 2: 200 * ms, 3: 400 * ms, 4: 800 * ms, 5: time.Second, 60: time.Second} {
		if got := Exp(100*ms, time.Second, n); got != want {
			t.Errorf("Exp(100ms, 1s, %d) = %v, want %v", n, got, want)
		}
	}
}

func TestJitterStaysInItsBand(t *testing.T) {
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := Jitter(time.Second, 0.2)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 800*time.Millisecond || hi > 1200*time.Millisecond || hi-lo < 200*time.Millisecond {
		t.Fatalf("1000 jittered seconds span %v..%v, want a spread inside 0.8s..1.2s", lo, hi)
	}
}
