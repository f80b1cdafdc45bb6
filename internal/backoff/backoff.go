// Package backoff is the one retry backoff of Conveyor: waits that double
// from a first value up to a cap, with optional jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Exp is the wait before retry n (from 1): first, doubling with each retry,
// capped at most. n < 1 counts as 1.
func Exp(first, most time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// Jitter spreads d uniformly over ±frac of itself (frac 0.2: 80% to 120%),
// so that many clients retrying at once do not retry in step.
func Jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 - frac + 2*frac*rand.Float64())) //nolint:gosec // jitter needs no crypto
}
