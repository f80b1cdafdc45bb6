// Package lifecycle is the part of a source's life every source shares: a
// stop asked for once, the first error kept, the readers and the emitted
// batches still running, and Done closed once the source finished reading
// and everything it emitted is settled. Every built-in source (kafka's
// batching and per-message sources, the emitter under json.read and the
// SQL sources, the foreign adapter) embeds a *State for Stop, Done and Err
// (the plugin.Source and plugin.Failer methods) and calls Fail and Finish.
package lifecycle

import "sync"

// State is a source's stop, done and error, and what it has in flight.
// Its methods are safe for concurrent use; the zero value is not ready:
// use New.
//
// Done closes once Finish was called, every reader that joined has left,
// and every batch begun has settled; Read closes once Stop was called and
// every reader has left. A source with no reader or batch to count calls
// Finish when it is done.
type State struct {
	stopCh, done, read chan struct{}

	mu       sync.Mutex
	err      error
	stopped  bool
	finished bool
	readers  int // Join minus Leave
	inflight int // Begin minus Settle
}

// New returns a State neither stopped nor done.
func New() *State {
	return &State{stopCh: make(chan struct{}), done: make(chan struct{}), read: make(chan struct{})}
}

// Stop asks the source to stop reading. Only the first call does anything.
func (s *State) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *State) stopLocked() {
	if !s.stopped {
		s.stopped = true
		close(s.stopCh)
		s.checkLocked()
	}
}

// Stopping is closed once Stop was called.
func (s *State) Stopping() <-chan struct{} { return s.stopCh }

// Stopped reports whether Stop was called.
func (s *State) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Fail keeps err as the source's error unless one was kept already, and
// stops the source. Fail(nil) only stops it.
func (s *State) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && s.err == nil {
		s.err = err
	}
	s.stopLocked()
}

// Err is the first error given to Fail, or nil.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Join counts one more reader (a partition's read loop, say) unless the
// source has stopped: it returns false then, and the reader must not
// start. A reader that joined calls Leave once it reads no more.
func (s *State) Join() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.readers++
	return true
}

// Leave ends a reader that Join counted.
func (s *State) Leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers--
	s.checkLocked()
}

// Begin counts one more emitted batch in flight; Settle ends it once the
// batch is acked, nacked or given up. A batch may begin after Stop (the
// last batch of a bounded run) as long as its reader has not left.
func (s *State) Begin() {
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
}

// Settle ends a batch that Begin counted.
func (s *State) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	s.checkLocked()
}

// Finish says the source will start reading nothing more: Done closes once
// the readers have left and the batches settled. Only the first call does
// anything.
func (s *State) Finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = true
	s.checkLocked()
}

// checkLocked closes Read and Done when their time has come. Callers hold
// mu.
func (s *State) checkLocked() {
	if s.stopped && s.readers == 0 && !isClosed(s.read) {
		close(s.read)
	}
	if s.finished && s.readers == 0 && s.inflight == 0 && !isClosed(s.done) {
		close(s.done)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Done is closed once Finish was called, the readers left and the batches
// settled.
func (s *State) Done() <-chan struct{} { return s.done }

// Read is closed once the source stopped and its readers left: nothing
// more will be emitted.
func (s *State) Read() <-chan struct{} { return s.read }
