package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// slowLog is a changelog whose Read delivers one change, then waits.
type slowLog struct{ release chan struct{} }

func (l slowLog) Write(context.Context, int32, []state.Change) (int64, error) { return 0, nil }
func (l slowLog) Read(ctx context.Context, _ int32, _ int64, total func(int64), fn func(state.Change)) (int64, error) {
	total(10)
	fn(state.Change{Key: []byte("ua"), Value: []byte("1")})
	<-l.release
	return 10, nil
}
func (l slowLog) Close() error { return nil }

type nopProc struct{}

func (nopProc) EventTime(plugin.Record) (int64, error)    { return 0, nil }
func (nopProc) Process(plugin.State, plugin.Record) error { return nil }
func (nopProc) OnTimer(plugin.State, int64, []byte) error { return nil }

// /readyz says a restore is running, and how far it is, until it is done.
func TestReadyWhileRestoring(t *testing.T) {
	log := slowLog{release: make(chan struct{})}
	s := state.New("count", nopProc{}, func(context.Context) (state.Changelog, error) { return log, nil })
	ready := stateReady{s}
	if err := ready.Ready(); err != nil {
		t.Fatalf("ready before any restore: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := s.Apply(context.Background(), plugin.Batch{Partition: 0}, nil)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ready.Ready()
		if err != nil {
			if want := "restoring state from the changelog: 1 partition(s) under way, 1 of 10 changes read"; err.Error() != want {
				t.Fatalf("ready: %v\nwant %s", err, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never said it was restoring")
		}
		time.Sleep(time.Millisecond)
	}
	close(log.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := ready.Ready(); err != nil && strings.Contains(err.Error(), "restoring") {
		t.Errorf("still restoring after the restore: %v", err)
	}
}
