package lifecycle

import (
	"errors"
	"sync"
	"testing"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Stop, Fail and Finish may be called many times, concurrently: the first
// error is kept, Stopping and Done close once.
func TestState(t *testing.T) {
	s := New()
	if closed(s.Stopping()) || closed(s.Done()) || s.Err() != nil {
		t.Fatal("a new State is stopped, done or failed")
	}
	first := errors.New("first")
	s.Fail(first)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Stop()
			s.Fail(errors.New("later"))
			s.Fail(nil)
			s.Finish()
		}()
	}
	wg.Wait()
	if !closed(s.Stopping()) || !closed(s.Done()) {
		t.Error("Stopping or Done not closed")
	}
	if s.Err() != first {
		t.Errorf("Err() = %v, want the first error", s.Err())
	}
}

// Fail(nil) stops without an error; Finish alone does not stop.
func TestStateFailNilAndFinish(t *testing.T) {
	s := New()
	s.Finish()
	if closed(s.Stopping()) {
		t.Error("Finish stopped the source")
	}
	s.Fail(nil)
	if !closed(s.Stopping()) || s.Err() != nil {
		t.Errorf("Fail(nil): stopping %v, err %v", closed(s.Stopping()), s.Err())
	}
}

// Done waits for the readers that joined and the batches begun; Read
// waits for the readers only, after a stop; a reader cannot join a stopped
// source.
func TestStateCountsReadersAndBatches(t *testing.T) {
	s := New()
	if !s.Join() {
		t.Fatal("a reader could not join a running source")
	}
	s.Begin()
	s.Stop()
	s.Finish()
	if s.Join() {
		t.Fatal("a reader joined a stopped source")
	}
	if closed(s.Read()) || closed(s.Done()) {
		t.Fatal("Read or Done closed with a reader still reading")
	}
	s.Begin() // the last batch of a bounded run, emitted after the stop
	s.Leave()
	if !closed(s.Read()) {
		t.Fatal("Read not closed once the stopped source's readers left")
	}
	if closed(s.Done()) {
		t.Fatal("Done closed with two batches in flight")
	}
	s.Settle()
	if closed(s.Done()) {
		t.Fatal("Done closed with a batch in flight")
	}
	s.Settle()
	if !closed(s.Done()) {
		t.Fatal("Done not closed once every batch settled")
	}
}
