package telemetry

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

// readiness answers /readyz: 200 only while the run is running, every
// stage that implements plugin.HealthChecker is ready, and no partition
// with records to read has stood still for the stall timeout.
type readiness struct {
	mu     sync.Mutex
	phase  phase
	stall  time.Duration
	checks []stageOf[plugin.HealthChecker]
	parts  []stageOf[plugin.PartitionReporter]
	seen   map[partKey]progressSeen
	quit   chan struct{}
	done   chan struct{}
}

type phase int

const (
	starting phase = iota
	running
	stopping
)

type stageOf[T any] struct {
	stage string
	c     T
}

type partKey struct {
	stage, origin string
	partition     int32
}

// progressSeen is a partition's position and since when it has been there
// with records to read.
type progressSeen struct {
	pos   int64
	since time.Time
}

func newReadiness() *readiness {
	return &readiness{seen: map[partKey]progressSeen{}}
}

// Watch has the run's readiness and counts take in stage's built source or
// sink c: its HealthChecker and PartitionReporter when it implements them,
// and for a source its own count of records read.
func (r *Run) Watch(stage string, c any) {
	if src, ok := c.(interface{ Stats() plugin.SourceStats }); ok {
		r.Stage(stage).countSource(func() int64 { return src.Stats().Records })
	}
	r.ready.mu.Lock()
	defer r.ready.mu.Unlock()
	if h, ok := c.(plugin.HealthChecker); ok {
		r.ready.checks = append(r.ready.checks, stageOf[plugin.HealthChecker]{stage, h})
	}
	if p, ok := c.(plugin.PartitionReporter); ok {
		r.ready.parts = append(r.ready.parts, stageOf[plugin.PartitionReporter]{stage, p})
	}
}

// Running marks the run started: readiness now depends on the stages. A
// partition with records to read whose position stays put for stall makes
// the run unready.
func (r *Run) Running(stall time.Duration) {
	rd := r.ready
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.phase != starting {
		return
	}
	rd.phase, rd.stall = running, stall
	rd.quit, rd.done = make(chan struct{}), make(chan struct{})
	// Polled, not only asked on each request: a stall is a position that
	// has not moved for a while, which needs looking more than once.
	every := min(max(stall/10, 50*time.Millisecond), time.Second)
	quit, done := rd.quit, rd.done
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				rd.poll(time.Now())
			case <-quit:
				return
			}
		}
	}()
}

// Stopping marks the run draining: /readyz answers 503 from now on.
func (r *Run) Stopping() {
	r.ready.mu.Lock()
	r.ready.phase = stopping
	r.ready.mu.Unlock()
}

// Ready returns nil when the run is ready, else why not (one line per
// reason).
func (r *Run) Ready() error { return r.ready.check(time.Now()) }

func (rd *readiness) stop() {
	rd.mu.Lock()
	rd.phase = stopping
	quit, done := rd.quit, rd.done
	rd.quit = nil
	rd.mu.Unlock()
	if quit != nil {
		close(quit)
		<-done
	}
}

// poll looks at every partition, and returns the stalled ones' reasons.
func (rd *readiness) poll(now time.Time) []error {
	rd.mu.Lock()
	parts, stall := rd.parts, rd.stall
	rd.mu.Unlock()
	type got struct {
		stage string
		p     plugin.PartitionProgress
	}
	var all []got
	for _, s := range parts {
		for _, p := range s.c.Partitions() {
			all = append(all, got{s.stage, p})
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	live := make(map[partKey]bool, len(all))
	var errs []error
	for _, g := range all {
		k := partKey{g.stage, g.p.Origin, g.p.Partition}
		live[k] = true
		prev, ok := rd.seen[k]
		if !ok || g.p.Behind <= 0 || g.p.Position != prev.pos {
			prev = progressSeen{pos: g.p.Position, since: now}
			rd.seen[k] = prev
		}
		if g.p.Behind > 0 && stall > 0 && now.Sub(prev.since) >= stall {
			errs = append(errs, fmt.Errorf("stage %q: partition %s/%d has %d record(s) to read and has made no progress for %s (stall_timeout_ms = %d)",
				g.stage, g.p.Origin, g.p.Partition, g.p.Behind, now.Sub(prev.since).Round(time.Millisecond), stall.Milliseconds()))
		}
	}
	for k := range rd.seen {
		if !live[k] {
			delete(rd.seen, k) // the partition went to another consumer
		}
	}
	return errs
}

func (rd *readiness) check(now time.Time) error {
	rd.mu.Lock()
	ph, checks := rd.phase, rd.checks
	rd.mu.Unlock()
	var errs []error
	switch ph {
	case starting:
		errs = append(errs, errors.New("starting: the stages are being built and connected"))
	case stopping:
		return errors.New("stopping: the run is draining or has ended")
	}
	for _, c := range checks { // while starting, those watched so far (an operator loading its table)
		if err := c.c.Ready(); err != nil {
			errs = append(errs, fmt.Errorf("stage %q: %w", c.stage, err))
		}
	}
	if ph == starting {
		return errors.Join(errs...)
	}
	stalled := rd.poll(now)
	sort.Slice(stalled, func(i, j int) bool { return stalled[i].Error() < stalled[j].Error() })
	return errors.Join(append(errs, stalled...)...)
}
