package engine

import "time"

// defaultProgressInterval is how often Options.Progress is called when
// Options.ProgressInterval is not set.
const defaultProgressInterval = time.Second

// startProgress calls Options.Progress every ProgressInterval with the
// run's counts so far, from its own goroutine, until the returned stop is
// called; stop waits for a call in progress. Without Options.Progress it
// does nothing.
func (r *run) startProgress(start time.Time) (stop func()) {
	f := r.opts.Progress
	if f == nil {
		return func() {}
	}
	interval := r.opts.ProgressInterval
	if interval <= 0 {
		interval = defaultProgressInterval
	}
	return every(interval, func() { f(r.summary(time.Since(start))) })
}

// every calls f every interval from a goroutine of its own until the
// returned stop is called; stop waits for a call in progress.
func every(interval time.Duration, f func()) (stop func()) {
	ticker := time.NewTicker(interval)
	quit, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-ticker.C:
				f()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		ticker.Stop()
		close(quit)
		<-stopped
	}
}
