package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/backoff"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// failure is one record an operator or sink failed on.
type failure struct {
	rec plugin.Record
	err error
}

// policy applies [error_handling].
type policy struct {
	eh  config.ErrorHandling
	dlq *sinkStage // nil when none is configured
	// dlqLimit caps the record bytes kept in a dead-letter entry (0: no
	// cap): a record too large for Kafka must still fit the dead-letter topic.
	dlqLimit int
	counts   *counters
	obs      *telemetry.Run // per-stage counts; nil in tests
	log      *zap.Logger
}

// cutOff returns err marked as a cut-off (see [plugin.ErrCutOff]) when
// it is one, or when ctx, the context of a batch's handling, ended: the
// run gave up draining, or the source gave the batch up (its partition
// moved on). Any outcome of a call whose context ended is taken as a
// cut-off, whatever its error says (context.Canceled per record, a
// Publisher's own wording), since the call may have been stopped at any
// point. It returns nil when neither holds. A cut-off is never handed to
// the error policy and never lets the batch be acked.
func cutOff(ctx context.Context, err error) error {
	if plugin.IsCutOff(err) {
		return err
	}
	if ctx.Err() == nil {
		return nil
	}
	return plugin.CutOff(cmp.Or(err, context.Cause(ctx)))
}

// retryAgain waits before attempt number n (from 1) and reports whether to
// make it.
func (p *policy) retryAgain(ctx context.Context, n int) bool {
	return p.mayRetry(n) && p.wait(ctx, n)
}

// mayRetry reports whether the strategy allows attempt number n (from 1).
func (p *policy) mayRetry(n int) bool {
	return p.eh.Strategy == config.Retry && n <= p.eh.MaxRetries
}

// wait sleeps before attempt number n, and reports false when ctx ended
// first.
func (p *policy) wait(ctx context.Context, n int) bool {
	t := time.NewTimer(p.delay(n))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// splitPermanent separates the failures that retrying cannot fix from the
// others, keeping their order.
func splitPermanent(failed []failure) (permanent, transient []failure) {
	for _, f := range failed {
		if plugin.IsPermanent(f.err) {
			permanent = append(permanent, f)
		} else {
			transient = append(transient, f)
		}
	}
	return permanent, transient
}

// delay is RetryDelay, or for exponential backoff RetryDelay·2^(n-1) with
// ±20% jitter, capped at 30·RetryDelay.
func (p *policy) delay(n int) time.Duration {
	if p.eh.Backoff != "exponential" {
		return p.eh.RetryDelay
	}
	return backoff.Jitter(backoff.Exp(p.eh.RetryDelay, 30*p.eh.RetryDelay, n), 0.2)
}

// operatorFailed retries each failed record alone (under retry), and gives
// up on those that still fail. It returns the records to pass on in input
// order: out (the operator's output of the others) when no retry brought
// a record back, otherwise the batch's output made again with each
// recovered record's output in its input's place (see inOrder).
func (p *policy) operatorFailed(ctx context.Context, s *stageOperator, b plugin.Batch, out []plugin.Record, failed []plugin.Failure) ([]plugin.Record, error) {
	var recovered [][]plugin.Record // per failed record, when a retry brought one back
	var lost []failure
	for k, f := range failed {
		got, err := p.retryOperator(ctx, s, failure{rec: f.Record, err: f.Err})
		if err != nil {
			lost = append(lost, failure{rec: f.Record, err: err})
			continue
		}
		if len(got) > 0 && recovered == nil {
			recovered = make([][]plugin.Record, len(failed))
		}
		if recovered != nil {
			recovered[k] = got
		}
	}
	if recovered != nil {
		out, lost = p.inOrder(ctx, s, b.Records, failed, recovered, lost)
	}
	if len(lost) == 0 {
		return out, nil
	}
	tallyGivenUp(ctx, lost)
	return out, p.giveUp(ctx, s.st, b, lost)
}

// inOrder makes the output of in again in input order, with recovered[k]
// in the place of failed[k]: an operator's output does not say which input
// each record came from, so the runs of records between the failed ones are
// applied again (through the bare operator, which the stage's counts do not
// see). A record of those runs that fails this time is retried in its
// place too, or added to lost.
func (p *policy) inOrder(ctx context.Context, s *stageOperator, in []plugin.Record, failed []plugin.Failure, recovered [][]plugin.Record, lost []failure) ([]plugin.Record, []failure) {
	at := make([]int, len(failed)) // failed by input index
	for k := range at {
		at[k] = k
	}
	slices.SortStableFunc(at, func(a, b int) int { return cmp.Compare(failed[a].Index, failed[b].Index) })
	res := make([]plugin.Record, 0, len(in))
	next := 0
	for _, k := range at {
		i := failed[k].Index
		if i < next {
			continue // reported twice
		}
		res, lost = p.applyRun(ctx, s, in[next:i], res, lost)
		res = append(res, recovered[k]...)
		next = i + 1
	}
	res, lost = p.applyRun(ctx, s, in[next:], res, lost)
	return res, lost
}

// applyRun appends to res what the operator makes of run: at once, or,
// when a record of run fails (or the operator panics), record by record,
// each failing one retried alone or added to lost.
func (p *policy) applyRun(ctx context.Context, s *stageOperator, run, res []plugin.Record, lost []failure) ([]plugin.Record, []failure) {
	if len(run) == 0 {
		return res, lost
	}
	start := len(res)
	var again error
	all, err := safeApply(s.op, run, res, func(_ int, e error) { again = cmp.Or(again, e) })
	if err == nil && again == nil {
		return all, lost
	}
	res = res[:start]
	for i := range run {
		var ferr error
		one, err := safeApply(s.op, run[i:i+1], res, func(_ int, e error) { ferr = e })
		if err == nil && ferr == nil {
			res = one
			continue
		}
		got, err := p.retryOperator(ctx, s, failure{rec: run[i], err: cmp.Or(err, ferr)})
		if err != nil {
			lost = append(lost, failure{rec: run[i], err: err})
			continue
		}
		res = append(res, got...)
	}
	return res, lost
}

// retryOperator applies the record alone again, unless its error is
// permanent, until it succeeds or the retries run out.
func (p *policy) retryOperator(ctx context.Context, s *stageOperator, f failure) ([]plugin.Record, error) {
	err := f.err
	for n := 1; !plugin.IsPermanent(err) && p.retryAgain(ctx, n); n++ {
		var again error
		out, perr := safeApply(s.op, []plugin.Record{f.rec}, nil, func(_ int, e error) { again = e })
		if perr == nil && again == nil {
			return out, nil
		}
		err = cmp.Or(perr, again)
	}
	return nil, err
}

// giveUp skips the records (continue), dead-letters them, or stops the run:
// stop is the strategy's choice, and retry's fallback when there is no
// dead-letter queue. Each record given up on counts as failed, whichever
// of the three happens to it.
//
// Records whose wait for a retry, or whose dead-letter write, the end of
// ctx cut short are not given up on: they are cut off (see cutOff).
func (p *policy) giveUp(ctx context.Context, st *config.Stage, b plugin.Batch, lost []failure) error {
	if err := cutOff(ctx, nil); err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, err)
	}
	first := lost[0]
	where := batchPlace(b, first.rec)
	p.counts.failed.Add(int64(len(lost)))
	p.obs.Stage(st.ID).Failed(len(lost))
	if p.eh.Strategy == config.Stop || (p.eh.Strategy == config.Retry && p.dlq == nil) {
		return fmt.Errorf("stage %q failed on record %s: %w (error_handling.strategy = %s; nothing from this record on is committed)", st.ID, where, first.err, p.eh.Strategy)
	}
	if p.dlq == nil {
		p.log.Warn("records skipped", stageField(st), countField(len(lost)), zap.String("first", where), errField(first.err))
		return nil
	}
	entries := make([]plugin.Record, len(lost))
	for i, f := range lost {
		entries[i] = plugin.Record{Value: deadLetter(st.ID, b, f, p.dlqLimit), Offset: f.rec.Offset}
	}
	if err := send(ctx, p.dlq, plugin.Batch{Records: entries}.Message(dlqTable), entries).Wait(ctx); err != nil {
		if cerr := cutOff(ctx, err); cerr != nil {
			return fmt.Errorf("stage %q: dead-letter write: %w", st.ID, cerr)
		}
		return fmt.Errorf("dead-letter queue: cannot write %d record(s) from stage %q: %w", len(lost), st.ID, err)
	}
	p.counts.deadLettered.Add(int64(len(lost)))
	p.obs.Stage(st.ID).DeadLettered(len(lost))
	p.log.Warn("records sent to the dead-letter queue", stageField(st), countField(len(lost)), zap.String("first", where), errField(first.err))
	return nil
}

// deadLetter is one dead-letter entry: the record (as JSON when it is JSON,
// as text otherwise), the error, the stage, where it came from and when. A
// record longer than limit (when limit > 0) is kept as the text of its first
// limit bytes, with truncated set and its full length in record_bytes.
func deadLetter(stage string, b plugin.Batch, f failure, limit int) []byte {
	entry := struct {
		Error     string          `json:"error"`
		Stage     string          `json:"stage"`
		Topic     string          `json:"source"`
		Partition int32           `json:"partition"`
		Offset    int64           `json:"offset"`
		Time      string          `json:"time"`
		Record    json.RawMessage `json:"record,omitempty"`
		Raw       string          `json:"record_text,omitempty"`
		Truncated bool            `json:"truncated,omitempty"`
		Bytes     int             `json:"record_bytes"`
	}{Error: f.err.Error(), Stage: stage, Topic: b.Origin, Partition: b.Partition, Offset: f.rec.Offset,
		Time: time.Now().UTC().Format(time.RFC3339Nano), Bytes: len(f.rec.Value)}
	switch v := f.rec.Value; {
	case limit > 0 && len(v) > limit:
		entry.Raw, entry.Truncated = strings.ToValidUTF8(string(v[:limit]), ""), true
	case json.Valid(v):
		entry.Record = v
	default:
		entry.Raw = string(v)
	}
	out, _ := json.Marshal(entry)
	return out
}

// batchPlace names where rec came from: origin/partition@offset.
func batchPlace(b plugin.Batch, rec plugin.Record) string {
	return fmt.Sprintf("%s/%d@%d", b.Origin, b.Partition, rec.Offset)
}

func stageField(st *config.Stage) zap.Field { return zap.String("stage", st.ID) }
func countField(n int) zap.Field            { return zap.Int("records", n) }
func attemptField(n int) zap.Field          { return zap.Int("attempt", n) }
func errField(err error) zap.Field          { return zap.Error(err) }
