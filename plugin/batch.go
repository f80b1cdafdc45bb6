package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Record is one JSON value travelling through a pipeline.
type Record struct {
	// Value is the record's JSON, normally an object, on one line. Operators
	// must treat it as read-only: the same bytes may be shared by several
	// branches.
	Value []byte
	// Offset is the record's position in its source partition (or line in a
	// file), kept for error reports and dead-letter entries; -1 when unknown.
	Offset int64
}

// Batch is a run of records from one source partition, in order: what one
// Watermill message carries between the stages of a pipeline.
//
// # On the wire
//
// A batch message (see [Batch.Message] and [DecodeBatch]) keeps everything
// in its payload and metadata, so it survives any Watermill middleware that
// copies or replaces messages (a context value would not):
//
//   - Payload: the records as JSON Lines, each record's JSON followed by
//     "\n". A record never holds a raw newline: JSON allows one only as
//     whitespace, and encoding turns such whitespace into spaces.
//   - Metadata [MetaFormat] = "batch/v1" marks a batch message; a message
//     without it is one record (its payload is the record's JSON).
//   - [MetaOrigin] and [MetaPartition]: where the records came from (the
//     Kafka topic, or a file's path, with partition 0).
//   - [MetaRecords]: how many records the payload holds.
//   - [MetaOffsets]: each record's offset, as "first-last" when they follow
//     one another, else a comma-separated list (compacted topics,
//     transaction markers). Absent when unknown (-1).
//
// A record's Kafka metadata (key, partition, offset, timestamp) is in its
// JSON, as the _kafka_* fields the kafka source adds.
//
// Per-partition order is kept by the runtime: batches of one origin and
// partition reach each sink in the order their source emitted them.
type Batch struct {
	Records []Record
	// Origin names where the records came from ("topic" for Kafka, the path
	// for a file) and Partition the partition (0 for a file).
	Origin    string
	Partition int32
}

// The metadata keys of a batch message.
const (
	MetaFormat    = "conveyor_format"
	MetaOrigin    = "conveyor_origin"
	MetaPartition = "conveyor_partition"
	MetaOffsets   = "conveyor_offsets"
	MetaRecords   = "conveyor_records"
	// FormatBatch is MetaFormat's value on a batch message.
	FormatBatch = "batch/v1"
)

// Message encodes b as a batch message with the given id (a cheap id such
// as "topic-partition-offset" is enough; it is used in logs). The records'
// bytes are copied into the payload, so b may be reused after.
func (b Batch) Message(id string) *message.Message {
	m, _ := b.encode(id, false)
	return m
}

// encode is Message; with records set it also returns the records as they
// lie in the message's payload.
func (b Batch) encode(id string, records bool) (*message.Message, []Record) {
	n := 0
	for _, r := range b.Records {
		n += len(r.Value) + 1
	}
	var bb BatchBuilder
	bb.buf = make([]byte, 0, n)
	bb.offsets = make([]int64, 0, len(b.Records))
	for _, r := range b.Records {
		bb.Append(r.Value, r.Offset)
	}
	var recs []Record
	if records {
		recs = make([]Record, len(b.Records))
		at := 0
		for i, r := range b.Records {
			recs[i] = Record{Value: bb.buf[at : at+len(r.Value) : at+len(r.Value)], Offset: r.Offset}
			at += len(r.Value) + 1
		}
	}
	return bb.Message(id, b.Origin, b.Partition), recs
}

// BatchBuilder lays records out as a batch message's payload as they are
// read, so that a source makes its message without copying the batch again.
// The zero value is ready to use.
type BatchBuilder struct {
	buf     []byte
	offsets []int64
}

// Grow makes room for about records records of bytes bytes in all.
func (bb *BatchBuilder) Grow(records, bytes int) {
	if cap(bb.buf)-len(bb.buf) < bytes {
		bb.buf = append(make([]byte, 0, len(bb.buf)+bytes), bb.buf...)
	}
	if cap(bb.offsets)-len(bb.offsets) < records {
		bb.offsets = append(make([]int64, 0, len(bb.offsets)+records), bb.offsets...)
	}
}

// Append adds a record whose JSON is value.
func (bb *BatchBuilder) Append(value []byte, offset int64) {
	bb.AppendFunc(offset, func(buf []byte) []byte { return append(buf, value...) })
}

// AppendFunc adds a record that write appends to buf (and returns buf, as
// append does). Raw newlines it writes are turned into spaces.
func (bb *BatchBuilder) AppendFunc(offset int64, write func(buf []byte) []byte) {
	start := len(bb.buf)
	bb.buf = write(bb.buf)
	oneLine(bb.buf[start:])
	bb.buf = append(bb.buf, '\n')
	bb.offsets = append(bb.offsets, offset)
}

// AppendCompactFunc is AppendFunc for a write that appends compact JSON,
// which holds no raw newline: it skips the check for one. A source whose
// records are compacted as they are read (the kafka source's) uses it.
func (bb *BatchBuilder) AppendCompactFunc(offset int64, write func(buf []byte) []byte) {
	bb.buf = append(write(bb.buf), '\n')
	bb.offsets = append(bb.offsets, offset)
}

// Len is the number of records added so far; Size their bytes.
func (bb *BatchBuilder) Len() int  { return len(bb.offsets) }
func (bb *BatchBuilder) Size() int { return len(bb.buf) }

// Message returns the records added so far as a batch message, and empties
// the builder (the message owns the bytes).
func (bb *BatchBuilder) Message(id, origin string, partition int32) *message.Message {
	msg := message.NewMessage(id, bb.buf)
	msg.Metadata = message.Metadata{MetaFormat: FormatBatch, MetaOrigin: origin,
		MetaPartition: strconv.FormatInt(int64(partition), 10), MetaRecords: strconv.Itoa(len(bb.offsets))}
	if o := formatOffsets(bb.offsets); o != "" {
		msg.Metadata[MetaOffsets] = o
	}
	bb.buf, bb.offsets = nil, bb.offsets[:0]
	return msg
}

// oneLine turns raw newlines into spaces; in JSON they can only be
// whitespace.
func oneLine(b []byte) {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		b[i] = ' '
		b = b[i+1:]
	}
}

func formatOffsets(offs []int64) string {
	if len(offs) == 0 || offs[0] < 0 {
		return ""
	}
	contiguous := true
	for i := 1; i < len(offs); i++ {
		if offs[i] != offs[i-1]+1 {
			contiguous = false
			break
		}
	}
	if contiguous {
		return strconv.FormatInt(offs[0], 10) + "-" + strconv.FormatInt(offs[len(offs)-1], 10)
	}
	b := make([]byte, 0, 8*len(offs))
	for i, o := range offs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return string(b)
}

// ErrNotBatch is returned by DecodeBatch for a batch message whose payload
// or metadata is malformed.
var ErrNotBatch = errors.New("malformed batch message")

// DecodeBatch returns the records msg carries: those of a batch message
// (see [Batch]), or msg's payload as one record when it is not one. The
// records point into msg's payload, which must not change while they are in
// use.
func DecodeBatch(msg *message.Message) (Batch, error) {
	return DecodeBatchInto(msg, nil)
}

// DecodeBatchInto is DecodeBatch appending the records to recs[:0].
func DecodeBatchInto(msg *message.Message, recs []Record) (Batch, error) {
	if d, ok := cached(msg); ok {
		return Batch{Records: append(recs[:0], d.recs...), Origin: d.origin, Partition: d.part}, nil
	}
	if msg.Metadata.Get(MetaFormat) != FormatBatch {
		return Batch{Records: append(recs[:0], Record{Value: msg.Payload, Offset: -1})}, nil
	}
	b := Batch{Origin: msg.Metadata.Get(MetaOrigin), Records: recs[:0]}
	if p := msg.Metadata.Get(MetaPartition); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return Batch{}, fmt.Errorf("%w %s: partition %q", ErrNotBatch, msg.UUID, p)
		}
		b.Partition = int32(n)
	}
	offs, err := newOffsetReader(msg.Metadata.Get(MetaOffsets))
	if err != nil {
		return Batch{}, fmt.Errorf("%w %s: offsets: %v", ErrNotBatch, msg.UUID, err)
	}
	payload := msg.Payload
	if b.Records == nil {
		b.Records = make([]Record, 0, offs.count(len(payload)))
	}
	for len(payload) > 0 {
		i := bytes.IndexByte(payload, '\n')
		if i < 0 {
			return Batch{}, fmt.Errorf("%w %s: the last record does not end with a newline", ErrNotBatch, msg.UUID)
		}
		o, err := offs.next()
		if err != nil {
			return Batch{}, fmt.Errorf("%w %s: offsets: %v", ErrNotBatch, msg.UUID, err)
		}
		b.Records = append(b.Records, Record{Value: payload[:i:i], Offset: o})
		payload = payload[i+1:]
	}
	if !offs.done() {
		return Batch{}, fmt.Errorf("%w %s: more offsets than records", ErrNotBatch, msg.UUID)
	}
	return b, nil
}

// offsetReader walks MetaOffsets without splitting it (a filtered batch
// carries a list of hundreds).
type offsetReader struct {
	list       string // what is left of a comma-separated list
	next_, end int64
	ranged     bool
	none       bool
}

func newOffsetReader(s string) (*offsetReader, error) {
	if s == "" {
		return &offsetReader{none: true}, nil
	}
	if i := strings.IndexByte(s, '-'); i > 0 && !strings.Contains(s, ",") {
		first, err1 := strconv.ParseInt(s[:i], 10, 64)
		last, err2 := strconv.ParseInt(s[i+1:], 10, 64)
		if err := errors.Join(err1, err2); err != nil || last < first {
			return nil, fmt.Errorf("bad range %q", s)
		}
		return &offsetReader{ranged: true, next_: first, end: last + 1}, nil
	}
	return &offsetReader{list: s}, nil
}

// count guesses the number of records, for preallocation.
func (r *offsetReader) count(payloadLen int) int {
	switch {
	case r.ranged:
		return int(min(r.end-r.next_, int64(payloadLen)))
	case r.none:
		return 1
	default:
		return strings.Count(r.list, ",") + 1
	}
}

func (r *offsetReader) next() (int64, error) {
	switch {
	case r.none:
		return -1, nil
	case r.ranged:
		if r.next_ >= r.end {
			return 0, errors.New("fewer offsets than records")
		}
		r.next_++
		return r.next_ - 1, nil
	default:
		if r.list == "" {
			return 0, errors.New("fewer offsets than records")
		}
		item := r.list
		if i := strings.IndexByte(item, ','); i >= 0 {
			item, r.list = item[:i], item[i+1:]
			if r.list == "" {
				return 0, errors.New("a trailing comma")
			}
		} else {
			r.list = ""
		}
		return strconv.ParseInt(item, 10, 64)
	}
}

func (r *offsetReader) done() bool {
	return r.none || (r.ranged && r.next_ == r.end) || (!r.ranged && r.list == "")
}
