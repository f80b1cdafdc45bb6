package flow_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// cutOffRun is one in-process run of cutOffPipeline over a blocking
// publisher.
type cutOffRun struct {
	pub  *blockingPublisher
	done chan struct{}
	sum  flow.Summary
	err  error
	stop context.CancelFunc
}

func startCutOffRun(t *testing.T, env kafkatest.Env, in, group, eh string, limit int) *cutOffRun {
	t.Helper()
	p, err := config.Parse("cutoff.toml", []byte(cutOffPipeline(env, in, group, eh)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &cutOffRun{pub: newBlockingPublisher(limit), done: make(chan struct{}), stop: cancel}
	reg := registerBlocking(t, r.pub)
	go func() {
		defer close(r.done)
		r.sum, r.err = flow.Execute(ctx, p, flow.WithRegistry(reg))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.pub.release:
		default:
			close(r.pub.release)
		}
		<-r.done
	})
	return r
}

// end stops the run and waits for it, at most a minute.
func (r *cutOffRun) end(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("the run did not stop within a minute")
	}
}

// cutOffReport counts, over every run's publisher, the input records
// received (once or more), missing and duplicated, logs a row of the fault
// table, and fails on a missing record, a dead-letter entry or a failure
// counted.
func cutOffReport(t *testing.T, env kafkatest.Env, fault, in, dlq string, runs ...*cutOffRun) {
	t.Helper()
	ends := env.EndOffsets(t, in)
	var total, out, missing, dups int64
	for part, end := range ends {
		total += end
		for o := range end {
			n := 0
			for _, r := range runs {
				r.pub.mu.Lock()
				n += r.pub.got[part][o]
				r.pub.mu.Unlock()
			}
			out += int64(n)
			if n == 0 {
				missing++
			} else {
				dups += int64(n - 1)
			}
		}
	}
	t.Logf("FAULT-TABLE | %s | 1 | in %d (%d pass the filter) | out %d | missing %d | duplicates %d (allowed any)",
		fault, total, total, out, missing, dups)
	if missing > 0 {
		t.Errorf("%d records missing from the output", missing)
	}
	if b, err := os.ReadFile(dlq); err == nil && len(b) > 0 {
		t.Errorf("cut-off writes were dead-lettered: %d line(s)", strings.Count(string(b), "\n"))
	}
	for i, r := range runs {
		if r.sum.Failed != 0 || r.sum.DeadLettered != 0 {
			t.Errorf("run %d counted cut-off writes: %s", i+1, r.sum)
		}
	}
}

// waitCommittedToEnd waits up to two minutes for the group to commit the
// whole input.
func waitCommittedToEnd(t *testing.T, env kafkatest.Env, group, in string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !committedToEnd(t, env, group, in) {
		if time.Now().After(deadline) {
			t.Fatalf("the group did not commit the whole input: committed %v, end %v", env.Committed(t, group, in), env.EndOffsets(t, in))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A stop while a sink blocks (its writes cut off when drain_timeout_ms
// runs out), then a second run of the same group, under continue and under
// retry with a dead-letter file: nothing is missing, nothing is
// dead-lettered or counted failed.
func TestFaultStopWithBlockedSink(t *testing.T) {
	env := faultBroker(t, "broker")
	for _, name := range []string{"continue", "retry+dlq"} {
		t.Run(name, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			msgs, _ := events(3000)
			env.Produce(t, in, spread(msgs, 3))
			first := startCutOffRun(t, env, in, group, eh, 1000)
			select {
			case <-first.pub.blocked:
			case <-time.After(time.Minute):
				t.Fatal("the sink never blocked")
			}
			time.Sleep(300 * time.Millisecond)
			first.end(t)
			if first.err == nil || !strings.Contains(first.err.Error(), `stage "out"`) {
				t.Errorf("the stop that cut writes off returned %v, not an error naming the stage", first.err)
			}
			second := startCutOffRun(t, env, in, group, eh, 1<<30)
			waitCommittedToEnd(t, env, group, in)
			second.end(t)
			if second.err != nil {
				t.Errorf("second run: %v", second.err)
			}
			cutOffReport(t, env, fmt.Sprintf("stop with a blocked sink, strategy %s, then a second run", name), in, dlq, first, second)
		})
	}
}

// A second instance joins while the first one's sink blocks: the first
// gives up the partitions that move (their writes cut off after
// drain_timeout_ms), then its sink is released; both run until the group
// committed everything. Under continue and under retry with a dead-letter
// file: nothing is missing, nothing is dead-lettered or counted failed,
// neither run fails.
func TestFaultRebalanceWithBlockedSink(t *testing.T) {
	env := faultBroker(t, "broker")
	for _, name := range []string{"continue", "retry+dlq"} {
		t.Run(name, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dead.jsonl")
			eh := cutOffStrategies(dlq)[name]
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 4)
			msgs, _ := events(3000)
			env.Produce(t, in, spread(msgs, 4))
			first := startCutOffRun(t, env, in, group, eh, 800)
			select {
			case <-first.pub.blocked:
			case <-time.After(time.Minute):
				t.Fatal("the sink never blocked")
			}
			second := startCutOffRun(t, env, in, group, eh, 1<<30)
			deadline := time.Now().Add(time.Minute)
			for {
				first.pub.mu.Lock()
				cut := first.pub.cut
				first.pub.mu.Unlock()
				if cut > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no blocked write was cut off by the rebalance")
				}
				time.Sleep(50 * time.Millisecond)
			}
			close(first.pub.release)
			waitCommittedToEnd(t, env, group, in)
			first.end(t)
			second.end(t)
			for i, r := range []*cutOffRun{first, second} {
				if r.err != nil {
					t.Errorf("run %d: %v", i+1, r.err)
				}
			}
			cutOffReport(t, env, fmt.Sprintf("rebalance (second instance joins) with a blocked sink, strategy %s", name), in, dlq, first, second)
		})
	}
}
