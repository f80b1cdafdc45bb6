package engine

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// metaSink names, on a message a source's handler produces, the sink stage
// it goes to (see dispatcher).
const metaSink = "conveyor_sink"

// handler builds the router handler of source n: the operators below it as
// Watermill middleware (plain function calls, no channel between them), and
// for each sink below a produced message naming the sink. The router hands
// the produced messages to the dispatcher and acks n's message only after
// the dispatcher returned, that is once every sink made its records durable.
// Turns, batch metrics and failures are outermost's.
func (r *run) handler(n *node) message.HandlerFunc {
	h := r.below(n.children, !forks(n))
	if s := r.readers[n]; s != nil { // a repartition topic's reader
		stage := r.statefulMiddleware(s, !forks(s.n))(r.below(s.n.children, !forks(s.n)))
		h = func(msg *message.Message) ([]*message.Message, error) {
			s.rep.noteRead(msg)
			return stage(msg)
		}
	}
	return func(msg *message.Message) ([]*message.Message, error) {
		// Retries end when the run gives up draining, or when the source
		// gives the batch up (its partition moved on). The dispatcher does
		// the same for the writes.
		ctx, cancel := context.WithCancel(msg.Context())
		defer cancel()
		defer context.AfterFunc(r.ctx, cancel)()
		msg.SetContext(ctx)
		return h(msg)
	}
}

// outermost wraps source n's handler, outside the user's middleware. It
// notes when the batch's handling began, for the batch metrics. An error
// or a panic from any of the handler fails the batch and stops the run with
// its cause (the router would only nack the message and log the error).
// The dispatcher ends the turn of a batch it gets; outermost ends the turn
// of one that will not reach it (an error, nothing to write, or a
// middleware that dropped the produced messages), so that it does not hold
// its partition back.
func (r *run) outermost(n *node) message.HandlerMiddleware {
	src := r.obs.Stage(n.st.ID)
	forked := forks(n)
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) (out []*message.Message, err error) {
			var tally *batchTally
			if forked { // the run's filtered total is counted here (see totals.go)
				tally = withTally(msg)
			}
			ctx := msg.Context()
			t := r.seq.of(msg)
			if t.s != nil {
				t.obs, t.start = src, time.Now()
				t.n, _ = strconv.Atoi(msg.Metadata.Get(plugin.MetaRecords))
			}
			defer func() {
				if perr := recovered(recover()); perr != nil {
					out, err = nil, perr
				}
				if tally != nil && err == nil {
					r.counts.filtered.Add(unreached(msg, out, tally))
				}
				switch {
				case err != nil:
					_ = r.settleState(ctx, msg, false)
					t.observe()
					t.end()
					err = r.failed(ctx, err)
				case len(out) == 0:
					// Nothing to write: the state changes are written now.
					if serr := r.settleState(ctx, msg, true); serr != nil {
						out, err = nil, r.failed(ctx, serr)
						t.observe()
						t.end()
						break
					}
					t.observe()
					t.pass()
				}
			}()
			return h(msg)
		}
	}
}

// below is the handler of a stage's children: each child's handler on the
// same message, their produced messages together. countFiltered says
// whether the operators add their drops to the run's filtered total (not
// below a fork, see totals.go).
func (r *run) below(children []*node, countFiltered bool) message.HandlerFunc {
	hs := make([]message.HandlerFunc, len(children))
	for i, c := range children {
		if c.role == plugin.RoleSink {
			hs[i] = toSink(c.st.ID, r.obs.Stage(c.st.ID))
		} else if s := r.stateful[c]; s != nil && s.rep != nil {
			hs[i] = r.repartitionWriter(s)
		} else if s != nil {
			hs[i] = r.statefulMiddleware(s, countFiltered)(r.below(c.children, countFiltered))
		} else {
			hs[i] = r.operatorMiddleware(c, countFiltered)(r.below(c.children, countFiltered))
		}
	}
	if len(hs) == 1 {
		return hs[0]
	}
	return func(msg *message.Message) ([]*message.Message, error) {
		var out []*message.Message
		for _, h := range hs {
			m, err := h(msg)
			if err != nil {
				return nil, err
			}
			out = append(out, m...)
		}
		return out, nil
	}
}

// toSink produces msg for the sink stage id, unless it carries no records.
func toSink(id string, obs *telemetry.Stage) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if len(msg.Payload) == 0 {
			return nil, nil
		}
		n, err := strconv.Atoi(msg.Metadata.Get(plugin.MetaRecords))
		if err != nil {
			n = bytes.Count(msg.Payload, []byte{'\n'})
		}
		obs.Handed(n)
		m := message.NewMessage(msg.UUID, msg.Payload)
		m.Metadata = make(message.Metadata, len(msg.Metadata)+1)
		for k, v := range msg.Metadata {
			m.Metadata[k] = v
		}
		m.Metadata[metaSink] = id
		m.SetContext(msg.Context())
		return []*message.Message{m}, nil
	}
}

// failed is the error a source's handler returns for a batch that failed:
// it stops the run, unless the source gave the batch up (then it is not
// committed, and the partition's next owner reads it).
func (r *run) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil && r.ctx.Err() == nil {
		return fmt.Errorf("batch given up by its source: %w", err)
	}
	return r.fatal(err)
}

// operatorMiddleware is n's operator as a handler middleware, with the
// error policy deciding what becomes of the records it fails.
func (r *run) operatorMiddleware(n *node, countFiltered bool) message.HandlerMiddleware {
	op := &stageOperator{r: r, st: n.st, op: r.ops[n], obs: r.obs.Stage(n.st.ID), busy: r.busyStage(n.st.ID), countFiltered: countFiltered}
	return plugin.OperatorMiddleware(op, func(ctx context.Context, b plugin.Batch, out []plugin.Record, failed []plugin.Failure) ([]plugin.Record, error) {
		return r.policy.operatorFailed(ctx, op, b, out, failed)
	})
}

// stageOperator is an operator of the pipeline: it counts what it filters
// out, and isolates the records it panics on.
type stageOperator struct {
	r    *run
	st   *config.Stage
	op   plugin.Operator
	obs  *telemetry.Stage
	busy *busy
	// countFiltered: the stage's drops go to the run's filtered total.
	countFiltered bool
}

type indexedFailure struct {
	i   int
	err error
}

// Apply runs the operator on in. When Apply panics there is no telling
// which record did it, so each record is applied again alone: only those
// that panic alone fail (permanently), and the good ones around them go on.
func (s *stageOperator) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	defer s.busy.enter()()
	start := len(out)
	var failed []indexedFailure
	res, err := safeApply(s.op, in, out, func(i int, err error) { failed = append(failed, indexedFailure{i, err}) })
	if err != nil {
		s.r.log.Error("operator panicked: applying the batch's records one at a time to find the ones it panics on",
			stageField(s.st), zap.Int64("first_offset", in[0].Offset), countField(len(in)), errField(err), stackField(err))
		res, failed = out[:start], nil
		for i := range in {
			var ferr error
			one, err := safeApply(s.op, in[i:i+1], res, func(_ int, e error) { ferr = e })
			switch {
			case err != nil:
				failed = append(failed, indexedFailure{i, err})
			case ferr != nil:
				failed = append(failed, indexedFailure{i, ferr})
			default:
				res = one
			}
		}
	}
	for _, f := range failed {
		fail(f.i, f.err)
	}
	dropped := len(in) - (len(res) - start) - len(failed)
	if dropped > 0 && s.countFiltered {
		s.r.counts.filtered.Add(int64(dropped))
	}
	s.obs.Operated(len(in), len(res)-start, dropped)
	return res
}
