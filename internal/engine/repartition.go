package engine

import (
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Repartitioning (issue 17): a stateful stage whose Spec.State says
// Repartition = "auto", below one Kafka source, does not process the
// records that reach it. Its writer (repartitionWriter, in the handler of
// the source above) writes each one to the stage's repartition topic,
// keyed by the stage's key (plugin.Keyer; Java's murmur2 partition), with
// a window.Mark header (its input partition and that partition's largest
// event time before it) and its offset in the input partition (so that the
// reader skips a record written twice, when its input was read again after
// a crash or a rebalance). After each batch it writes a mark record (no key,
// no value, the header alone) to every partition of the topic when the
// input partition's progress rose (its largest event time; below another
// stateful stage, that stage's watermark: see messages). The batch is
// acked once its writes are durable, so the source commits only what is
// in the topic. Under exactly-once they are written through the run's
// transactional producer, inside the transaction that commits the input
// offsets of their records.
//
// Its reader, a source of the repartition topic in a consumer group of
// its own named as the topic (a node of its own, below which the stage and
// its children are handled as below any source), runs the stage with one
// window.Tracker
// per repartition partition (repartitionClock): the inputs are the source
// topic's partitions, the watermark that closes windows is the minimum of
// their largest event times (idle ones excepted after idle_timeout_ms),
// and a record is late only by its own input partition's largest event
// time before it, so a backlog gives the windows of a live run.
//
// Under exactly-once the reader is one more source of the run's
// transaction: it reads read_committed (only what the writers' committed
// transactions wrote), and its group's offsets (with its own group
// metadata, KIP-447) commit in the same transaction as the writes of the
// stage's batches (changelog, output) and the offsets of the input that
// the writers covered. So one transaction per instance covers both sides;
// a record written in a transaction is read in a later one. An abort
// rewinds both sources to their committed offsets, the stage's state is
// restored from the committed changelog (the clocks with it), and the
// writes of the aborted transaction are never handed to the reader.

// repartitionTopic returns the repartition topic of stateful stage n, or
// "" when n does not repartition: its Spec.State says Repartition "auto"
// and it is below exactly one source, whose config names repartition
// topics (the kafka source's).
func (p *Plan) repartitionTopic(n *node) string {
	if n.spec.State == nil || n.cfg == nil || n.role != plugin.RoleOperator {
		return ""
	}
	if n.spec.State(n.cfg).Repartition != plugin.RepartitionAuto {
		return ""
	}
	topic, above := "", 0
	for _, s := range p.sources {
		if !reaches(s, n) {
			continue
		}
		above++
		if rt, ok := s.cfg.(interface{ RepartitionTopic(stage string) string }); ok {
			topic = rt.RepartitionTopic(n.st.ID)
		}
	}
	if above != 1 {
		return ""
	}
	return topic
}

// Repartition is a stateful stage's repartition, as validate and graph
// show it.
type Repartition struct {
	Stage string // the stage's id
	Topic string // <group_id>-<stage id>-repartition
}

// Repartitions lists the stages that repartition their input, in file
// order.
func (p *Plan) Repartitions() []Repartition {
	var out []Repartition
	for _, n := range p.nodes {
		if t := p.repartitionTopic(n); t != "" {
			out = append(out, Repartition{Stage: n.st.ID, Topic: t})
		}
	}
	return out
}

// repartitioned is the repartition of one stateful stage at run time.
type repartitioned struct {
	rp     state.Repartition
	keyer  plugin.Keyer
	reader *node         // the source of the repartition topic; its child is the stage
	above  plugin.Source // the source whose records are written to it
	idle   int64         // idle_timeout_ms; 0: never idle

	mu      sync.Mutex
	writers map[int32]*markWriter // per input partition
	read    map[int32]int64       // per repartition partition, the offset after the last batch read
}

// markWriter is one input partition's progress, as its writer saw it.
// The batch holding the partition's turn uses it, under mu, which the
// idle watch (repartition_idle.go) only tries to take.
type markWriter struct {
	mu        sync.Mutex
	max, sent int64 // largest event time so far, and in the last mark records
	last      int64 // wall ms of its last batch, or since it is held here
	idleSent  bool  // an idle mark went out since its last batch
}

func (rp *repartitioned) writer(p int32) *markWriter {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	w := rp.writers[p]
	if w == nil {
		w = &markWriter{max: window.NoTime, sent: window.NoTime}
		rp.writers[p] = w
	}
	return w
}

// buildRepartition opens stage s's repartition topic through src (the
// source above it) and builds its reader.
func (r *run) buildRepartition(s *statefulStage, src *node, topic string) error {
	n := s.n
	rs, ok := r.sources[src].(state.Repartitioner)
	if !ok {
		// Only conveyor test's fixtures run a kafka source's config
		// without its topics.
		return buildErr(n, fmt.Errorf("repartition = \"auto\" needs topic %q, but source %q has no Kafka topics to repartition through (conveyor test's fixtures: run the case with --broker embedded, or set repartition = \"never\" when the input's Kafka key is already the stage's key)", topic, src.st.ID))
	}
	keyer, ok := s.op.Processor.(plugin.Keyer)
	if !ok {
		return buildErr(n, fmt.Errorf("repartition = \"auto\" needs the stage's processor to be a plugin.Keyer (the key to repartition by): implement Key, or declare Repartition = \"never\""))
	}
	rp, err := rs.Repartition(r.ctx, n.st.ID)
	if err != nil {
		return buildErr(n, err)
	}
	st := *n.st
	st.ID, st.Inputs, st.Config = n.st.ID+".repartition", nil, nil
	st.Function, st.FunctionPos = src.st.Function, src.st.FunctionPos
	rn := &node{st: &st, spec: src.spec, role: plugin.RoleSource, children: []*node{n}}
	reader, err := rp.Reader(r.env(rn, r.durableBelow(n)))
	if err != nil {
		_ = rp.Close()
		return buildErr(n, fmt.Errorf("repartition topic %q: %w", topic, err))
	}
	idle := s.op.Options.IdleTimeout
	s.rep = &repartitioned{rp: rp, keyer: keyer, reader: rn, above: r.sources[src], idle: idle, writers: map[int32]*markWriter{}, read: map[int32]int64{}}
	inputs := rp.Partitions()
	s.state.WithClock(func(int32) state.Clock { return newRepartitionClock(inputs, idle) })
	r.sources[rn] = reader
	r.closers[rn] = &closing{s: reader}
	if r.readers == nil {
		r.readers = map[*node]*statefulStage{}
	}
	r.readers[rn] = s
	return nil
}

// The header keys every repartition message carries, converted once, not
// per record; a writer never modifies them.
var (
	markHeaderKey   = []byte(window.MarkHeader)
	offsetHeaderKey = []byte(offsetHeader)
	srcHeaderKey    = []byte(srcHeader)
)

// repartitionWriter is stateful stage s, repartitioned, in the handler of
// the source above it: it writes the batch's records to the repartition
// topic (see the top of this file) and passes nothing on.
func (r *run) repartitionWriter(s *statefulStage) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		// The partition's batches are written in its order, so that its
		// marks only rise in every repartition partition.
		t, b, err := r.inTurn(s, msg)
		if err != nil {
			return nil, err
		}
		w := s.rep.writer(b.Partition)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.last, w.idleSent = time.Now().UnixMilli(), false
		wm, above := upstreamWatermark(msg)
		msgs, failed := s.rep.messages(s.op.Processor, w, b, wm, above)
		if len(failed) > 0 {
			if err := r.policy.giveUp(msg.Context(), s.n.st, b, failed); err != nil {
				return nil, err
			}
		}
		if err := s.rep.rp.Write(t.ctx, msgs); err != nil {
			if cerr := cutOff(t.ctx, err); cerr != nil {
				return nil, fmt.Errorf("stage %q: repartition write: %w", s.n.st.ID, cerr)
			}
			return nil, fmt.Errorf("stage %q: %w", s.n.st.ID, err)
		}
		return nil, nil
	}
}

// messages are the repartition messages of batch b of one input
// partition, whose progress is w: each record keyed, with its mark, then
// the mark records when the partition's progress rose. The records whose
// key or event time cannot be had are failed.
//
// The progress of an input partition read from a source is the largest
// event time of its records, in the source's order. Below a stateful
// stage (above is true, wm its watermark after the batch, stamped by
// withWatermark) it is that watermark alone: the stage's output, when it
// reads a repartition topic, interleaves the records of every source
// partition, so their times say nothing of what is still to come. A
// record that went through an earlier repartition keeps, in srcHeader,
// the mark of its source partition, by which it is judged late.
func (rp *repartitioned) messages(proc plugin.Processor, w *markWriter, b plugin.Batch, wm int64, above bool) ([]state.Message, []failure) {
	var failed []failure
	msgs := make([]state.Message, 0, len(b.Records)+int(rp.rp.Partitions()))
	kt, _ := proc.(state.KeyTimer)
	// arena holds the batch's keys and header values: slices of it stay
	// valid when it grows (they keep the old array).
	var arena []byte
	take := func(from int) []byte { return arena[from:len(arena):len(arena)] }
	var headers, ts []byte // the record's _kafka_headers and _kafka_timestamp
	meta := func(name string, v []byte) bool {
		switch {
		case name == record.HeadersField && headers == nil:
			headers = v
		case name == record.TimestampField && ts == nil:
			ts = v
		}
		return isKafkaMeta(name)
	}
	for _, rec := range b.Records {
		var key []byte
		var t int64
		var err error
		if kt != nil {
			from := len(arena)
			if arena, t, err = kt.KeyTime(rec, arena); err == nil {
				key = take(from)
			}
		} else if key, err = rp.keyer.Key(rec); err == nil {
			t, err = proc.EventTime(rec)
		}
		if err != nil {
			failed = append(failed, failure{rec: rec, err: err})
			continue
		}
		m := state.Message{Key: key, Partition: -1}
		headers, ts = nil, nil
		v, stripped := record.AppendWithout(nil, rec.Value, meta)
		if stripped {
			m.Value = v
		} else { // no metadata member, or not an object: read as before
			m.Value = rec.Value
			headers, ts = rawMember(rec.Value, record.HeadersField), rawMember(rec.Value, record.TimestampField)
		}
		m.Headers = carriedHeaders(headers, m.Headers)
		from := len(arena)
		arena, _ = window.Mark{Input: b.Partition, Max: w.max}.AppendBinary(arena)
		m.Headers = append(m.Headers, state.Header{Key: markHeaderKey, Value: take(from)})
		if rec.Offset >= 0 {
			from = len(arena)
			arena = strconv.AppendInt(arena, rec.Offset, 10)
			m.Headers = append(m.Headers, state.Header{Key: offsetHeaderKey, Value: take(from)})
		}
		if ts != nil {
			m.Timestamp = timestampOf(ts)
		}
		msgs = append(msgs, m)
		if !above {
			w.max = max(w.max, t)
		}
	}
	if above {
		w.max = max(w.max, wm)
	}
	if w.max > w.sent {
		mark, _ := window.Mark{Input: b.Partition, Max: w.max}.AppendBinary(nil)
		for p := range rp.rp.Partitions() {
			msgs = append(msgs, state.Message{Partition: p, Headers: []state.Header{{Key: markHeaderKey, Value: mark}}})
		}
		w.sent = w.max
	}
	return msgs, failed
}

// srcHeader carries, on a record that went through more than one
// repartition, the mark of its source partition (its window.MarkHeader
// from the first repartition), by which it is judged late.
const srcHeader = "conveyor-src"

// carriedHeaders appends the record's own headers (its _kafka_headers) to
// hs, but the mark and offset of an earlier repartition: its source mark
// goes on as srcHeader (the mark itself when it went through one
// repartition only).
func carriedHeaders(raw []byte, hs []state.Header) []state.Header {
	if i := jsonscan.SkipSpace(raw, 0); i >= len(raw) || raw[i] != '{' {
		return hs
	}
	var mark, src []byte
	_ = record.EachHeader(raw, func(k, v []byte) {
		switch string(k) {
		case window.MarkHeader:
			mark = v
		case offsetHeader:
		case srcHeader:
			src = v
		default:
			hs = append(hs, state.Header{Key: k, Value: v})
		}
	})
	if src == nil {
		src = mark
	}
	if src != nil {
		hs = append(hs, state.Header{Key: srcHeaderKey, Value: src})
	}
	return hs
}

// isKafkaMeta reports whether a top-level member is one the kafka source
// adds (but _kafka_payload, which holds a value that was not JSON): the
// repartition topic's reader adds its own.
// rawMember is the value of rec's top-level member name as written (nil
// when there is none), read as gjson reads it.
func rawMember(rec []byte, name string) []byte {
	r := gjson.GetBytes(rec, name)
	if !r.Exists() {
		return nil
	}
	return []byte(r.Raw)
}

// timestampOf is a _kafka_timestamp's value as written: the Kafka
// timestamp in ms when it is a number, else 0 (none).
func timestampOf(raw []byte) int64 {
	if n, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(raw), len(raw)), 10, 64); err == nil {
		return n // the string is not kept: no copy
	}
	if r := gjson.ParseBytes(raw); r.Type == gjson.Number {
		return r.Int()
	}
	return 0
}

func isKafkaMeta(name string) bool {
	switch name {
	case record.KeyField, record.KeyBase64Field, record.PartitionField, record.OffsetField, record.TimestampField, record.HeadersField:
		return true
	}
	return false
}

// metaWatermark is the metadata key, on the output of a stateful stage's
// batch, of the stage's watermark after it (see withWatermark).
const metaWatermark = "conveyor_watermark"

// withWatermark is out, the output of stateful batch in, stamped with the
// stage's watermark wm. When out is in itself (the stage passed every
// record on as it was), a copy is stamped, so that no other branch below
// in sees it.
func withWatermark(out, in *message.Message, wm int64) *message.Message {
	if out == in {
		out = message.NewMessage(in.UUID, in.Payload)
		out.Metadata = make(message.Metadata, len(in.Metadata)+1)
		for k, v := range in.Metadata {
			out.Metadata[k] = v
		}
		out.SetContext(in.Context())
	}
	out.Metadata.Set(metaWatermark, strconv.FormatInt(wm, 10))
	return out
}

// upstreamWatermark is the watermark withWatermark stamped on msg, and
// whether there is one (msg comes from a stateful stage).
func upstreamWatermark(msg *message.Message) (int64, bool) {
	wm, err := strconv.ParseInt(msg.Metadata.Get(metaWatermark), 10, 64)
	if err != nil {
		return window.NoTime, false
	}
	return wm, true
}
