// Package lifecycle is the part of a source's life every source shares: a
// stop asked for once, the first error kept, and Done closed once what was
// emitted is settled. A source embeds a *State for Stop, Done and Err (the
// plugin.Source and plugin.Failer methods) and calls Fail and Finish.
package lifecycle

import "sync"

// State is a source's stop, done and error. Its methods are safe for
// concurrent use; the zero value is not ready: use New.
type State struct {
	stopOnce, doneOnce sync.Once
	stopCh, done       chan struct{}

	mu  sync.Mutex
	err error
}

// New returns a State neither stopped nor done.
func New() *State {
	return &State{stopCh: make(chan struct{}), done: make(chan struct{})}
}

// Stop asks the source to stop reading. Only the first call does anything.
func (s *State) Stop() { s.stopOnce.Do(func() { close(s.stopCh) }) }

// Stopping is closed once Stop was called.
func (s *State) Stopping() <-chan struct{} { return s.stopCh }

// Fail keeps err as the source's error unless one was kept already, and
// stops the source. Fail(nil) only stops it.
func (s *State) Fail(err error) {
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	s.Stop()
}

// Err is the first error given to Fail, or nil.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Finish closes Done: the source read its last and everything it emitted
// was acked or nacked. Only the first call does anything.
func (s *State) Finish() { s.doneOnce.Do(func() { close(s.done) }) }

// Done is closed by Finish.
func (s *State) Done() <-chan struct{} { return s.done }
