package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// dispatcher is the Publisher of every source's router handler: it hands
// the messages a handler produced to the sinks they name (see toSink), in
// their partition's turn, and returns only when every sink has made them
// durable or the error policy has dealt with the records that failed. The
// router acks the source's message after Publish returns nil, and nacks it
// otherwise (and the run stops).
type dispatcher struct {
	r     *run
	sinks map[string]*sinkStage
}

// sinkStage is a sink of the pipeline.
type sinkStage struct {
	st   *config.Stage
	sink plugin.Sink
	obs  *telemetry.Stage
	busy *busy // nil for the dead-letter queue
}

// write is what one sink gets from one batch.
type write struct {
	sink  *sinkStage
	batch plugin.Batch
	msg   *message.Message // what the handler produced for the sink
}

// Publish writes the records of msgs, all produced from one source message.
func (d *dispatcher) Publish(_ string, msgs ...*message.Message) (err error) {
	if len(msgs) == 0 {
		return nil
	}
	// The batch's state changes are written once its output is durable,
	// before the ack (see stateful.go); a batch that failed abandons them.
	defer func() {
		if err != nil {
			_ = d.r.settleState(d.r.ctx, msgs[0], false)
		}
	}()
	t := d.r.seq.of(msgs[0])
	defer t.observe() // after the writes settled
	defer t.end()
	// Writes and retries end when the run gives up draining, or when the
	// source gives the batch up (its partition moved on).
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	defer context.AfterFunc(d.r.ctx, cancel)()
	writes := make([]write, len(msgs))
	for i, m := range msgs {
		s, ok := d.sinks[m.Metadata.Get(metaSink)]
		if !ok {
			return d.r.failed(ctx, fmt.Errorf("message %s names no sink of the pipeline (%s = %q)", m.UUID, metaSink, m.Metadata.Get(metaSink)))
		}
		b, err := plugin.DecodeBatch(m)
		if err != nil {
			return d.r.failed(ctx, err)
		}
		writes[i] = write{sink: s, batch: b, msg: m}
	}
	if err := t.wait(ctx); err != nil {
		b := writes[0].batch
		return d.r.failed(ctx, fmt.Errorf("waiting for the previous batch of %s/%d: %w", b.Origin, b.Partition, err))
	}
	pending := make([]plugin.Pending, len(writes))
	for i, w := range writes {
		defer w.sink.busy.enter()()
		pending[i] = send(ctx, w.sink, w.msg, w.batch.Records)
	}
	t.end()
	var errs []error
	for i, w := range writes {
		if err := d.r.settle(ctx, w, pending[i].Wait(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return d.r.failed(ctx, errors.Join(errs...))
	}
	if err := d.r.settleState(ctx, msgs[0], true); err != nil {
		return d.r.failed(ctx, err)
	}
	return nil
}

// Close does nothing: the runtime closes the sinks after the final flush.
func (d *dispatcher) Close() error { return nil }

// send hands recs, which msg carries, to a sink: at once with a
// [plugin.Sender] (durable when the Pending says so), else as msg (its
// metadata kept) through Publish, which returns when they are durable. A
// panic in the sink is reported as an error.
func send(ctx context.Context, s *sinkStage, msg *message.Message, recs []plugin.Record) (p plugin.Pending) {
	defer func() {
		if err := recovered(recover()); err != nil {
			p = plugin.Done{Err: err}
		}
	}()
	if snd, ok := s.sink.(plugin.Sender); ok {
		return safePending{snd.Send(ctx, recs)}
	}
	msg.SetContext(ctx)
	return plugin.Done{Err: s.sink.Publish(s.st.ID, msg)}
}

// settle deals with the outcome of one sink write: retries what failed with
// a transient error when the policy says so, then skips, dead-letters or
// stops. A write cut off (see cutOff) is none of these: the batch fails
// without a record being counted, and is read again. A write that failed as a whole (not a *plugin.WriteError: the sink
// panicked, say) stops the run: there is no telling which records it wrote.
func (r *run) settle(ctx context.Context, w write, err error) error {
	recs := w.batch.Records
	p := r.policy
	st := w.sink.st
	for attempt := 1; ; attempt++ {
		if err == nil {
			r.counts.out.Add(int64(len(recs)))
			w.sink.obs.Written(len(recs))
			return nil
		}
		if cerr := cutOff(ctx, err); cerr != nil {
			return fmt.Errorf("stage %q: write: %w", st.ID, cerr)
		}
		var we *plugin.WriteError
		if !errors.As(err, &we) {
			r.counts.failed.Add(int64(len(recs)))
			w.sink.obs.Failed(len(recs))
			r.log.Error("sink write failed as a whole", stageField(st), countField(len(recs)), zap.String("batch", batchPlace(w.batch, recs[0])), errField(err), stackField(err))
			return fmt.Errorf("stage %q: write: %w", st.ID, err)
		}
		failed := make([]failure, len(we.Failed))
		for i, idx := range we.Failed {
			failed[i] = failure{rec: recs[idx], err: we.Errs[i]}
		}
		r.counts.out.Add(int64(len(recs) - len(failed)))
		w.sink.obs.Written(len(recs) - len(failed))
		lost, again := splitPermanent(failed)
		if !p.mayRetry(attempt) {
			lost, again = failed, nil
		}
		if len(lost) > 0 {
			if err := p.giveUp(ctx, st, w.batch, lost); err != nil {
				return err
			}
		}
		if len(again) == 0 {
			return nil
		}
		if !p.wait(ctx, attempt) {
			return p.giveUp(ctx, st, w.batch, again)
		}
		r.log.Warn("sink write failed, retrying", stageField(st), countField(len(again)), attemptField(attempt), errField(again[0].err))
		recs = make([]plugin.Record, len(again))
		for i, f := range again {
			recs[i] = f.rec
		}
		msg := plugin.Rebatch(w.msg, w.batch, recs)
		err = send(ctx, w.sink, msg, recs).Wait(ctx)
	}
}
