package telemetry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

type fakeSource struct {
	parts []plugin.PartitionProgress
	err   error
}

func (f *fakeSource) Partitions() []plugin.PartitionProgress { return f.parts }
func (f *fakeSource) Ready() error                           { return f.err }

// The readiness answer through a run's life: not ready while starting;
// ready once running; a partition with records to read is stalled only
// after its position has stood still for the whole stall timeout, and no
// longer once it moves or catches up; a stage's own Ready error is
// reported with the stage's name; not ready once stopping.
func TestReadiness(t *testing.T) {
	r := New("p", nil, nil)
	defer r.Close()
	src := &fakeSource{parts: []plugin.PartitionProgress{{Origin: "t", Partition: 3, Position: 7, Behind: 5}}}
	r.AddStage("in", "kafka", "source")
	r.Watch("in", src)
	t0 := time.Now()
	expect := func(at time.Duration, want string) {
		t.Helper()
		err := r.ready.check(t0.Add(at))
		switch {
		case want == "" && err != nil:
			t.Errorf("at %s: not ready: %v", at, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("at %s: %v, want an error containing %q", at, err, want)
		}
	}
	expect(0, "starting")
	r.ready.mu.Lock()
	r.ready.phase, r.ready.stall = running, time.Second // no poller: the test drives the clock
	r.ready.mu.Unlock()
	expect(0, "")
	expect(999*time.Millisecond, "")
	expect(time.Second, `stage "in": partition t/3 has 5 record(s) to read and has made no progress for 1s (stall_timeout_ms = 1000)`)
	src.parts[0].Position = 8 // it moved
	expect(1500*time.Millisecond, "")
	expect(2400*time.Millisecond, "")
	expect(2500*time.Millisecond, "made no progress for 1s")
	src.parts[0].Behind = 0 // caught up: standing still is fine
	expect(5*time.Second, "")
	src.parts[0].Behind = 1 // new records: the clock starts now, not at the last move
	expect(5500*time.Millisecond, "")
	src.err = errors.New("waiting for partitions")
	expect(5600*time.Millisecond, `stage "in": waiting for partitions`)
	src.err = nil
	src.parts = nil // the partition went elsewhere
	expect(10*time.Second, "")
	r.Stopping()
	expect(10*time.Second, "stopping")
}
