package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// step is one operator or sink below a source, in a tree that a source's
// handler walks with plain function calls.
type step struct {
	st   *config.Stage
	op   plugin.Operator // nil for a sink
	sink plugin.Sink     // nil for an operator
	next []*step
	m    *telemetry.Stage
}

// write is what one sink gets from one batch.
type write struct {
	step *step
	recs []plugin.Record
}

// chain is the router handler of one source.
type chain struct {
	r     *run
	steps []*step
	src   *telemetry.Stage
}

// handle runs a batch through the operators, hands the results to the sinks
// in the batch's turn (so a partition's output keeps its order), and returns
// only when every sink has made them durable or the error policy has dealt
// with the failures. A returned error nacks the message and stops the run.
func (c *chain) handle(msg *message.Message) error {
	b, ok := plugin.BatchOf(msg)
	if !ok {
		b = &plugin.Batch{Records: []plugin.Record{{Value: msg.Payload, Offset: -1}}}
	}
	defer b.EndTurn()
	defer c.src.Batch(len(b.Records), time.Now())
	// Writes and retries end when the run gives up draining, or when the
	// source gives the batch up (its partition moved to another consumer).
	ctx, cancel := context.WithCancel(msg.Context())
	defer cancel()
	defer context.AfterFunc(c.r.ctx, cancel)()
	var writes []write
	for _, s := range c.steps {
		if err := c.eval(ctx, s, b, b.Records, &writes); err != nil {
			return c.fail(ctx, err)
		}
	}
	if err := b.WaitTurn(ctx); err != nil {
		return c.fail(ctx, fmt.Errorf("waiting for the previous batch of %s/%d: %w", b.Origin, b.Partition, err))
	}
	pending := make([]plugin.Pending, len(writes))
	for i, w := range writes {
		pending[i] = safeWrite(ctx, w.step.sink, w.recs)
	}
	b.EndTurn()
	var errs []error
	for i, w := range writes {
		if err := c.settle(ctx, w, b, pending[i].Wait(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return c.fail(ctx, errors.Join(errs...))
	}
	return nil
}

// fail nacks the batch. It stops the run, unless the source gave the batch
// up: then it is not committed, and the partition's next owner reads it.
func (c *chain) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil && c.r.ctx.Err() == nil {
		return fmt.Errorf("batch given up by its source: %w", err)
	}
	return c.r.fatal(err)
}

// eval applies s to in and passes the result down.
func (c *chain) eval(ctx context.Context, s *step, b *plugin.Batch, in []plugin.Record, writes *[]write) error {
	if s.sink != nil {
		if len(in) > 0 {
			*writes = append(*writes, write{step: s, recs: in})
			s.m.Handed(len(in))
		}
		return nil
	}
	out, failed := c.apply(s, b, in)
	if len(failed) > 0 {
		recovered, err := c.r.policy.operatorFailed(ctx, s, b, failed)
		if err != nil {
			return err
		}
		out = append(out, recovered...)
	}
	dropped := max(len(in)-len(out)-len(failed), 0)
	if dropped > 0 {
		c.r.counts.filtered.Add(int64(dropped))
	}
	s.m.Operated(len(in), len(out), dropped)
	for _, nx := range s.next {
		if err := c.eval(ctx, nx, b, out, writes); err != nil {
			return err
		}
	}
	return nil
}

// apply runs s's operator on in. When Apply panics there is no telling
// which record did it, so each record is applied again alone: only those
// that panic alone fail (permanently), and the good ones around them go on.
func (c *chain) apply(s *step, b *plugin.Batch, in []plugin.Record) ([]plugin.Record, []failure) {
	var failed []failure
	out, err := safeApply(s.op, in, make([]plugin.Record, 0, len(in)), func(i int, err error) {
		failed = append(failed, failure{rec: in[i], err: err})
	})
	if err == nil {
		return out, failed
	}
	c.r.log.Error("operator panicked: applying the batch's records one at a time to find the ones it panics on",
		stageField(s.st), zap.String("batch", batchPlace(b, in[0])), countField(len(in)), errField(err), stackField(err))
	out, failed = make([]plugin.Record, 0, len(in)), nil
	for i := range in {
		var ferr error
		res, err := safeApply(s.op, in[i:i+1], out, func(_ int, e error) { ferr = e })
		switch {
		case err != nil:
			failed = append(failed, failure{rec: in[i], err: err})
		case ferr != nil:
			failed = append(failed, failure{rec: in[i], err: ferr})
		default:
			out = res
		}
	}
	return out, failed
}

// settle deals with the outcome of one sink write: retries what failed with
// a transient error when the policy says so, then skips, dead-letters or
// stops. A write that failed as a whole (not a *plugin.WriteError: the sink
// panicked, say) stops the run: there is no telling which records it wrote.
func (c *chain) settle(ctx context.Context, w write, b *plugin.Batch, err error) error {
	recs := w.recs
	p := c.r.policy
	for attempt := 1; ; attempt++ {
		if err == nil {
			c.r.counts.out.Add(int64(len(recs)))
			w.step.m.Written(len(recs))
			return nil
		}
		var we *plugin.WriteError
		if !errors.As(err, &we) {
			c.r.counts.failed.Add(int64(len(recs)))
			w.step.m.Failed(len(recs))
			c.r.log.Error("sink write failed as a whole", stageField(w.step.st), countField(len(recs)), zap.String("batch", batchPlace(b, recs[0])), errField(err), stackField(err))
			return fmt.Errorf("stage %q: write: %w", w.step.st.ID, err)
		}
		failed := make([]failure, len(we.Failed))
		for i, idx := range we.Failed {
			failed[i] = failure{rec: recs[idx], err: we.Errs[i]}
		}
		c.r.counts.out.Add(int64(len(recs) - len(failed)))
		w.step.m.Written(len(recs) - len(failed))
		lost, again := splitPermanent(failed)
		if !p.mayRetry(attempt) {
			lost, again = failed, nil
		}
		if len(lost) > 0 {
			if err := p.giveUp(ctx, w.step.st, b, lost); err != nil {
				return err
			}
		}
		if len(again) == 0 {
			return nil
		}
		if !p.wait(ctx, attempt) {
			return p.giveUp(ctx, w.step.st, b, again)
		}
		c.r.log.Warn("sink write failed, retrying", stageField(w.step.st), countField(len(again)), attemptField(attempt), errField(again[0].err))
		recs = make([]plugin.Record, len(again))
		for i, f := range again {
			recs[i] = f.rec
		}
		err = safeWrite(ctx, w.step.sink, recs).Wait(ctx)
	}
}
