package engine

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// The idle watch of a repartitioned stage with idle_timeout_ms: the
// readers of a repartition topic learn an input partition's progress only
// from what its writer sends, so when the input falls silent no batch
// arrives to tell them it went idle, and a window it holds back would
// stay open for as long as nothing else came. So the writer side watches
// the wall clock: an input partition this instance holds, with nothing
// left to read (its lag is 0), that has had no batch for idle_timeout_ms
// gets an idle mark (window.Mark with Idle) written to every repartition
// partition, once, until its next batch. Each reader takes it in as a
// batch of its own, so the windows it releases are emitted, and their
// changes written to the changelog, as after any batch. A partition taken
// over from a writer that died idles the same way, counted from when it
// is held here.

// idleEvery is how often the idle watch looks: a quarter of the timeout,
// within [50 ms, 1 s].
func idleEvery(timeout int64) time.Duration {
	return min(max(time.Duration(timeout)*time.Millisecond/4, 50*time.Millisecond), time.Second)
}

// watchIdle starts the idle watch of every repartitioned stage with an
// idle_timeout_ms, until the returned stop is called (it waits for a write
// under way) or the source above is done.
func (r *run) watchIdle() (stop func()) {
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	n := 0
	for _, s := range r.stateful {
		rep := s.rep
		if rep == nil || rep.idle <= 0 {
			continue
		}
		parts, ok := rep.above.(plugin.PartitionReporter)
		if !ok {
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			t := time.NewTicker(idleEvery(rep.idle))
			defer t.Stop()
			held := map[int32]bool{}
			for {
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				case <-rep.above.Done():
					return
				}
				held = rep.markIdle(ctx, parts.Partitions(), held, time.Now().UnixMilli(), r.log.With(stageField(s.n.st)))
			}
		}()
	}
	return func() {
		cancel()
		for range n {
			<-done
		}
	}
}

// markIdle writes the idle mark of each partition of held now (those the
// source reports) that has had no batch for the idle timeout at wall time
// now and has nothing left to read; wasHeld is the set of the last look,
// so a partition newly held counts its silence from now. It returns the
// set of now.
func (rp *repartitioned) markIdle(ctx context.Context, now []plugin.PartitionProgress, wasHeld map[int32]bool, wall int64, log *zap.Logger) map[int32]bool {
	held := make(map[int32]bool, len(now))
	for _, pp := range now {
		held[pp.Partition] = true
		w := rp.writer(pp.Partition)
		if !w.mu.TryLock() {
			continue // a batch of it is being written: not idle
		}
		if !wasHeld[pp.Partition] {
			w.last, w.idleSent = wall, false
		}
		if pp.Behind <= 0 && !w.idleSent && wall-w.last >= rp.idle {
			if err := rp.rp.Write(ctx, rp.idleMarks(pp.Partition, w.max)); err != nil {
				if ctx.Err() == nil {
					log.Warn("writing an idle mark to the repartition topic (tried again at the next look)", zap.Int32("partition", pp.Partition), errField(err))
				}
			} else {
				w.idleSent = true
			}
		}
		w.mu.Unlock()
	}
	return held
}

// idleMarks are the mark records saying input partition p, at largest
// event time max, went idle: one to every repartition partition.
func (rp *repartitioned) idleMarks(p int32, max int64) []state.Message {
	mark, _ := window.Mark{Input: p, Max: max, Idle: true}.AppendBinary(nil)
	msgs := make([]state.Message, rp.rp.Partitions())
	for i := range msgs {
		msgs[i] = state.Message{Partition: int32(i), Headers: []state.Header{{Key: markHeaderKey, Value: mark}}}
	}
	return msgs
}
