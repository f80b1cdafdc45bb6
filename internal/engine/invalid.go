package engine

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// The values of plugin.MetaInvalidAction.
const (
	invalidWrap       = "wrap"
	invalidDeadLetter = "dead_letter"
	invalidFail       = "fail"
)

// wrappedCount is how many invalid records of a source were wrapped and
// passed on, for the warning at the end of the run.
type wrappedCount struct {
	stage string
	n     atomic.Int64
}

// invalidRecords is the first middleware of source n's handler: it acts on
// the records the source marked as not valid JSON (plugin.MetaInvalid). It
// counts them, then, as the source's invalid key says, passes them on
// (wrap), gives them up to the dead-letter queue through the error policy
// and passes the others on (dead_letter), or fails the batch, which stops
// the run before anything from that record on is committed (fail). A batch
// without the mark costs one metadata lookup.
func (r *run) invalidRecords(n *node) message.HandlerMiddleware {
	obs := r.obs.Stage(n.st.ID)
	wrapped := &wrappedCount{stage: n.st.ID}
	r.wrapped = append(r.wrapped, wrapped)
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			marks := msg.Metadata.Get(plugin.MetaInvalid)
			if marks == "" {
				return h(msg)
			}
			b, idx, err := invalidBatch(msg, marks)
			if err != nil {
				return nil, fmt.Errorf("stage %q: %w", n.st.ID, err)
			}
			obs.Invalid(len(idx))
			switch action := msg.Metadata.Get(plugin.MetaInvalidAction); action {
			case invalidDeadLetter, invalidFail:
				if err := r.giveUpInvalid(msg, n.st, b, idx, action); err != nil {
					return nil, err
				}
			default: // wrap
				wrapped.n.Add(int64(len(idx)))
			}
			return h(msg)
		}
	}
}

// invalidBatch decodes msg and the indexes marks lists.
func invalidBatch(msg *message.Message, marks string) (plugin.Batch, []int, error) {
	b, err := plugin.DecodeBatch(msg)
	if err != nil {
		return b, nil, err
	}
	var idx []int
	for _, s := range strings.Split(marks, ",") {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(b.Records) {
			return b, nil, fmt.Errorf("%w: bad %s %q", plugin.ErrNotBatch, plugin.MetaInvalid, marks)
		}
		idx = append(idx, i)
	}
	return b, idx, nil
}

// giveUpInvalid fails the records idx of b, the batch msg carries: under
// dead_letter they go to the dead-letter queue with their raw text, and
// msg is left with the others; under fail the run stops at the first.
func (r *run) giveUpInvalid(msg *message.Message, st *config.Stage, b plugin.Batch, idx []int, action string) error {
	lost := make([]failure, len(idx))
	for i, j := range idx {
		rec := b.Records[j]
		raw, why := invalidValue(rec.Value)
		lost[i] = failure{rec: plugin.Record{Value: raw, Offset: rec.Offset}, err: plugin.Permanent(why)}
	}
	if action == invalidFail || r.policy.dlq == nil {
		r.counts.failed.Add(int64(len(lost)))
		r.obs.Stage(st.ID).Failed(len(lost))
		return fmt.Errorf("stage %q: record %s: %w (invalid = %q; nothing from this record on is committed)",
			st.ID, batchPlace(b, lost[0].rec), lost[0].err, action)
	}
	p := *r.policy
	p.eh.Strategy = config.Continue // with a dead-letter queue: dead-letter them
	if err := p.giveUp(msg.Context(), st, b, lost); err != nil {
		return err
	}
	keep := b.Records[:0:0]
	for i, rec := range b.Records {
		if !contains(idx, i) {
			keep = append(keep, rec)
		}
	}
	out := plugin.Batch{Records: keep, Origin: b.Origin, Partition: b.Partition}.Message(msg.UUID)
	msg.Payload = out.Payload
	for _, k := range []string{plugin.MetaRecords, plugin.MetaOffsets} {
		msg.Metadata.Set(k, out.Metadata.Get(k))
	}
	msg.Metadata.Set(plugin.MetaInvalid, "")
	return nil
}

func contains(idx []int, i int) bool {
	for _, j := range idx {
		if j == i {
			return true
		}
	}
	return false
}

// warnWrapped warns, at the end of the run, of each source that passed on
// records that were not valid JSON wrapped as _kafka_payload.
func (r *run) warnWrapped() {
	for _, w := range r.wrapped {
		if n := w.n.Load(); n > 0 {
			r.log.Warn(fmt.Sprintf("%d records of stage %q were not JSON objects and were wrapped as %s; set invalid = \"dead_letter\" or \"fail\" on the stage to act on them",
				n, w.stage, record.PayloadField), zap.String("stage", w.stage), zap.Int64("records", n))
		}
	}
}

// invalidValue is the value of rec, a record its source marked invalid,
// as it came, and why it is invalid: text that is not valid JSON
// (record.PayloadField), or bytes that do not decode with their schema
// (record.PayloadBase64Field, with record.SchemaErrorField).
func invalidValue(rec []byte) ([]byte, error) {
	if why := gjson.GetBytes(rec, record.SchemaErrorField); why.Exists() {
		raw, _ := base64.StdEncoding.DecodeString(gjson.GetBytes(rec, record.PayloadBase64Field).String())
		return raw, fmt.Errorf("value does not decode with its schema: %s", why.String())
	}
	raw := []byte(gjson.GetBytes(rec, record.PayloadField).String())
	return raw, fmt.Errorf("value is not valid JSON: %v", jsonscan.Check(raw))
}
