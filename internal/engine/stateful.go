package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Stateful stages (plugin.Stateful operators) run through internal/state.
// Their place in the path of a batch (see doc.go):
//
//   - step 3, handle: the stage waits for the turn of the batch before it
//     in the partition to have handed over (so its state moves in input
//     order), applies the batch to the partition's state, and keeps the
//     batch's changes as pending under the batch's turn;
//   - between steps 4 and 5: once every sink made the batch's output
//     durable (or when there was no output), the pending changes are
//     written to the changelog; only then is the batch acked (step 5), so
//     no offset is committed (step 6) before the state changes it caused
//     are durable. A batch that fails abandons its changes.

// statefulStage is a stateful operator of the pipeline.
type statefulStage struct {
	n     *node
	op    *plugin.StatefulOperator
	state *state.Stage
	rep   *repartitioned // nil: the stage processes its input where it is read
}

// pendingStates holds, per turn, the state changes of the batch's
// stateful stages, until the batch's output is durable.
type pendingStates struct {
	mu sync.Mutex
	m  map[string][]*state.Pending
}

func (ps *pendingStates) add(turn string, p *state.Pending) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string][]*state.Pending{}
	}
	ps.m[turn] = append(ps.m[turn], p)
}

func (ps *pendingStates) take(turn string) []*state.Pending {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.m[turn]
	delete(ps.m, turn)
	return p
}

// buildState makes the state of each stateful operator, once the sources
// are built: a Kafka source above keeps its changelog.
func (r *run) buildState() error {
	for n, op := range r.ops {
		so, ok := op.(*plugin.StatefulOperator)
		if !ok {
			continue
		}
		if n.spec.State == nil {
			// Compile could not check the stage (exactly-once, late).
			return buildErr(n, fmt.Errorf("function %s builds a stateful operator but its plugin.Spec does not declare it: set Spec.State", n.st.Function))
		}
		if err := so.Options.Validate(); err != nil {
			return buildErr(n, err)
		}
		if so.Options.Late == "dead_letter" && r.policy.dlq == nil {
			return buildErr(n, fmt.Errorf("late = \"dead_letter\" needs [error_handling.dead_letter_queue]"))
		}
		var providers []state.Provider
		var above *node
		for src, s := range r.sources {
			if reaches(src, n) && r.readers[src] == nil {
				above = src
				if p, ok := s.(state.Provider); ok {
					providers = append(providers, p)
				}
			}
		}
		var open func(context.Context) (state.Changelog, error)
		switch len(providers) {
		case 0: // memory only: no Kafka source above
		case 1:
			// The changes are written once the output is durable: a sink
			// that makes it durable only at the end (a file) would let a
			// crash lose windows the changelog says were emitted.
			if !r.durableBelow(n) {
				return buildErr(n, fmt.Errorf("a stateful stage below a Kafka source keeps its state in a changelog, written once its output is durable: its sinks must be durable on write (kafka, sql.write, stdout.write), not written at the end of the run (a file)"))
			}
			id := n.st.ID
			open = func(ctx context.Context) (state.Changelog, error) { return providers[0].Changelog(ctx, id) }
		default:
			return buildErr(n, fmt.Errorf("a stateful stage reads one Kafka source at most (its changelog has one partition per input partition); this one is below %d", len(providers)))
		}
		if r.stateful == nil {
			r.stateful = map[*node]*statefulStage{}
		}
		st := state.New(n.st.ID, so.Processor, open)
		if dir := r.plan.Pipeline.ResolvePath(r.plan.Pipeline.Global.StateDir); dir != "" {
			st.UseDisk(dir, r.log)
		}
		ss := &statefulStage{n: n, op: so, state: st}
		r.stateful[n] = ss
		if topic := r.plan.repartitionTopic(n); topic != "" {
			if err := r.buildRepartition(ss, above, topic); err != nil {
				return err
			}
		}
	}
	return nil
}

// statefulMiddleware is stateful stage s as a handler middleware.
func (r *run) statefulMiddleware(s *statefulStage, countFiltered bool) message.HandlerMiddleware {
	obs := r.obs.Stage(s.n.st.ID)
	busy := r.busyStage(s.n.st.ID)
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			defer busy.enter()()
			t, b, err := r.inTurn(s, msg)
			if err != nil {
				return nil, err
			}
			var failed []failure
			res, err := s.state.Apply(t.ctx, b, func(i int, err error) { failed = append(failed, failure{rec: b.Records[i], err: err}) })
			if err != nil {
				return nil, err
			}
			r.pending.add(msg.Metadata.Get(metaTurn), res.Pending)
			if len(failed) > 0 {
				if err := r.policy.giveUp(msg.Context(), s.n.st, b, failed); err != nil {
					return nil, err
				}
			}
			if err := r.late(msg.Context(), s, b, res.Late); err != nil {
				return nil, err
			}
			// The records that went into the state and did not come out
			// one for one count as filtered (a duplicate dedupe.apply
			// dropped; for window.aggregate, the records less the windows
			// emitted), so that a run's in = out + filtered + failed + late.
			// Replayed records count as filtered too: read again above, they
			// are in the run's in.
			// A batch may emit more than it took in (windows its timers
			// closed, behind a repartition a batch of mark records only):
			// the run's total then gives back what earlier batches counted.
			absorbed := len(b.Records) - res.Marks - len(failed) - len(res.Late) - len(res.Out)
			if absorbed != 0 && countFiltered {
				r.counts.filtered.Add(int64(absorbed))
			}
			obs.Operated(len(b.Records)-res.Marks, len(res.Out), max(0, absorbed))
			return next(withWatermark(plugin.Rebatch(msg, b, res.Out), msg, res.Watermark))
		}
	}
}

// inTurn waits for the batch before msg's in its partition to have handed
// over (so that stage s sees a partition's batches in its order), and
// returns msg's turn and batch.
func (r *run) inTurn(s *statefulStage, msg *message.Message) (*turn, plugin.Batch, error) {
	t := r.seq.of(msg)
	if err := t.wait(msg.Context()); err != nil {
		return nil, plugin.Batch{}, fmt.Errorf("stage %q: waiting for the previous batch of the partition: %w", s.n.st.ID, err)
	}
	b, err := plugin.DecodeBatch(msg)
	return t, b, err
}

// late counts the records of b at idx that came late, and dead-letters
// them when the stage says so.
func (r *run) late(ctx context.Context, s *statefulStage, b plugin.Batch, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	r.obs.Stage(s.n.st.ID).Late(len(idx))
	if s.op.Options.Late != "dead_letter" {
		return nil
	}
	entries := make([]plugin.Record, len(idx))
	for i, k := range idx {
		f := failure{rec: b.Records[k], err: fmt.Errorf("%w: its window had closed (event time past window end + grace_ms)", plugin.ErrLate)}
		entries[i] = plugin.Record{Value: deadLetter(s.n.st.ID, b, f, r.policy.dlqLimit), Offset: f.rec.Offset}
	}
	if err := send(ctx, r.policy.dlq, plugin.Batch{Records: entries}.Message(dlqTable), entries).Wait(ctx); err != nil {
		if cerr := cutOff(ctx, err); cerr != nil {
			return fmt.Errorf("stage %q: dead-letter write: %w", s.n.st.ID, cerr)
		}
		return fmt.Errorf("dead-letter queue: cannot write %d late record(s) from stage %q: %w", len(idx), s.n.st.ID, err)
	}
	r.counts.deadLettered.Add(int64(len(idx)))
	r.obs.Stage(s.n.st.ID).DeadLettered(len(idx))
	return nil
}

// settleState writes the state changes of msg's batch once its output is
// durable (ok), or abandons them.
func (r *run) settleState(ctx context.Context, msg *message.Message, ok bool) error {
	if len(r.stateful) == 0 {
		return nil
	}
	ps := r.pending.take(msg.Metadata.Get(metaTurn))
	var first error
	for _, p := range ps {
		if !ok || first != nil {
			p.Abandon()
			continue
		}
		first = p.Write(ctx)
	}
	return first
}

// endState emits, at the end of a bounded input, what each stateful stage
// kept in memory only still holds open (its timers fire as if event time
// had ended), through the stages below it to the sinks.
func (r *run) endState(d *dispatcher) error {
	for n, s := range r.stateful {
		if s.state.HasChangelog() {
			continue // kept in the changelog for the next run
		}
		batches, err := s.state.End()
		if err != nil {
			return err
		}
		h := r.below(n.children, true)
		for _, b := range batches {
			msg := b.Message(fmt.Sprintf("%s-end-%d", n.st.ID, b.Partition))
			msg.SetContext(r.ctx)
			r.obs.Stage(n.st.ID).EmittedAtEnd(len(b.Records))
			if !r.forkedAbove(n) { // the records absorbed were counted filtered
				r.counts.filtered.Add(-int64(min(int64(len(b.Records)), r.counts.filtered.Load())))
			}
			out, err := h(msg)
			if err != nil {
				return err
			}
			if err := d.Publish("", out...); err != nil {
				return err
			}
			r.log.Info("emitted what was still open at the end of the input", stageField(n.st), zap.Int32("partition", b.Partition), countField(len(b.Records)))
		}
	}
	return nil
}

// forkedAbove reports whether a source above n forks: then the run's
// filtered total is counted at the source (see totals.go), not by n.
func (r *run) forkedAbove(n *node) bool {
	for src := range r.sources {
		if reaches(src, n) && forks(src) {
			return true
		}
	}
	return false
}

// stateReady is a stateful stage's readiness: not ready while it restores.
type stateReady struct{ s *state.Stage }

// Ready implements plugin.HealthChecker.
func (sr stateReady) Ready() error {
	if p := sr.s.Progress(); p.Restoring > 0 {
		return fmt.Errorf("restoring state from the changelog: %d partition(s) under way, %d of %d changes read", p.Restoring, p.Restored, p.ToRead)
	}
	return nil
}
