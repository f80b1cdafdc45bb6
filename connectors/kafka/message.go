package kafka

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/schema"
	"github.com/conveyor-etl/conveyor/plugin"
)

// encoder turns a record into the message the sink sends: its value, key,
// headers and timestamp, as SinkConfig says. Both delivery modes use it. It
// is read-only once made, so safe for concurrent use.
type encoder struct {
	cfg   *SinkConfig
	route *router // nil without topic_expr, key_expr and partition_expr
	key   record.KeyPath
	keyed bool
	// keyTop is set when key_field names a top-level member, which the
	// member scan then reads (one pass over the record, not two).
	keyTop bool
	key64  string                // key_field + "_base64"
	static []sarama.RecordHeader // the headers key, by name
	// scan is set when a record's top-level members must be read: for
	// headers, the timestamp, or to leave metadata out of the value.
	scan bool
	drop bool
	// peek is set when the member scan may read a record without checking
	// it (see members): metadata kept.
	peek bool
	// values writes values in value_format's schema; nil for JSON.
	values *schema.Encoder
	// keys writes keys in key_format's schema, from keyRaw (key_field's
	// JSON value); nil for JSON.
	keys   *schema.Encoder
	keyRaw record.Path
}

// newEncoder makes the sink's encoder. client, when not nil, is asked
// whether a topic that topic_expr gives exists, and how many partitions a
// topic has for partition_expr.
func newEncoder(cfg *SinkConfig, client sarama.Client) (*encoder, error) {
	e := &encoder{cfg: cfg, drop: cfg.Metadata == "drop"}
	if cfg.KeyField != "" {
		e.key, e.keyed = record.CompileKeyPath(cfg.KeyField), true
	}
	topic, key, partition, err := cfg.compileExprs()
	if err != nil {
		return nil, err
	}
	if topic != nil || key != nil || partition != nil {
		e.route = &router{topic: topic, key: key, partition: partition, maxTopics: cfg.MaxTopics,
			topics: map[string]bool{}, missing: map[string]time.Time{}}
		e.keyed = e.keyed || key != nil
		if client != nil {
			e.route.exists, e.route.partitions = topicExists(client, cfg), partitionCount(client)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Headers)) {
		e.static = append(e.static, sarama.RecordHeader{Key: []byte(k), Value: []byte(cfg.Headers[k])})
	}
	e.scan = cfg.HeadersField != "" || cfg.TimestampField != "" || e.drop
	e.peek = !e.drop
	e.keyTop = e.scan && cfg.KeyField != "" && !strings.Contains(cfg.KeyField, ".")
	e.key64 = cfg.KeyField + "_base64"
	e.keyRaw = record.CompilePath(cfg.KeyField)
	return e, nil
}

// encode sets m's Topic, Partition, Value, Key, Headers and Timestamp
// from rec. A value it
// makes (rec without some members) is appended to arena, in chunks shared
// by the records of a write; what is before an arena's length is never
// written again, so earlier values stay as they are. It reports a record
// without a key while the sink is keyed. An error fails the record:
// sending it again cannot help.
func (e *encoder) encode(m *sarama.ProducerMessage, rec []byte, arena *[]byte, slot *encSlots) (unkeyed bool, err error) {
	m.Topic, m.Value = e.cfg.Topic, slot.value(rec)
	if e.route != nil {
		if err := e.routeTo(m, rec); err != nil {
			return false, plugin.Permanent(err)
		}
	}
	var found foundKey
	if e.scan {
		if err := e.members(m, rec, arena, &found, slot); err != nil {
			return false, plugin.Permanent(err)
		}
	}
	if e.keys != nil {
		if unkeyed, err = e.schemaKey(m, rec, arena, slot); err != nil {
			return false, plugin.Permanent(err)
		}
	} else if e.keyed && m.Key == nil {
		k, ok := found.key, found.ok
		if !e.keyTop {
			k, ok = slot.keyOf(e.key, rec)
		}
		if ok {
			m.Key = slot.key(k)
		} else {
			unkeyed = true
		}
	}
	if e.cfg.tombstone(rec) {
		m.Value = nil
	} else if e.values != nil {
		if err := e.schemaValue(m, rec, arena, slot); err != nil {
			return unkeyed, plugin.Permanent(err)
		}
	}
	return unkeyed, nil
}

// routeTo sets m's topic, key and partition by the sink's expressions.
// Without partition_expr, or when it gives none, m.Partition is -1: the
// partitioner picks (see newPartitioner).
func (e *encoder) routeTo(m *sarama.ProducerMessage, rec []byte) error {
	r := e.route
	if r.topic != nil {
		t, err := r.pickTopic(rec)
		if err != nil {
			return err
		}
		m.Topic = t
	}
	if r.key != nil {
		k, ok, err := r.pickKey(rec)
		if err != nil {
			return err
		}
		if ok {
			m.Key = sarama.ByteEncoder(k)
		}
	}
	if r.partition != nil {
		p, err := r.pickPartition(rec, m.Topic)
		if err != nil {
			return err
		}
		m.Partition = p
	}
	return nil
}

// foundKey is the key that the member scan read (with keyTop).
type foundKey struct {
	key []byte
	ok  bool
}

// members reads the headers and timestamp fields (and a top-level key
// field) and leaves out of the value what is not to be repeated there, in
// one pass over rec's members. A record without the headers field, when
// metadata is kept, has nothing to leave out: its members are read without
// checking them (record.PeekMembers), which reads a valid record as the
// checking scan does. After a record with the headers field, the rest of
// a write (slot's) goes to the checking scan at once (see encSlots).
func (e *encoder) members(m *sarama.ProducerMessage, rec []byte, arena *[]byte, found *foundKey, slot *encSlots) error {
	if e.peek && !slot.checks() {
		var f finds
		if record.PeekMembers(rec, func(name string, raw []byte) bool { return !e.find(&f, name, raw) }) && f.hdrs == nil {
			return e.use(m, rec, &f, found)
		}
		slot.setChecks()
	}
	var f finds
	var payload []byte
	others := 0 // members kept, but _kafka_payload
	if cap(*arena)-len(*arena) < len(rec) {
		*arena = make([]byte, 0, nextChunk(cap(*arena), len(rec)))
	}
	start := len(*arena)
	out, stripped := record.AppendWithout(*arena, rec, func(name string, raw []byte) bool {
		if e.find(&f, name, raw) {
			return true
		}
		if !e.drop {
			return false
		}
		if name == record.PayloadField {
			payload = raw
			return false
		}
		if strings.HasPrefix(name, "_kafka_") {
			return true
		}
		others++
		return false
	})
	if stripped {
		*arena = out
		m.Value = sarama.ByteEncoder(out[start:])
	}
	if payload != nil && others == 0 && payload[0] == '"' {
		// a payload that was not a JSON object: the message as it came
		m.Value = sarama.ByteEncoder(gjson.ParseBytes(payload).Str)
	}
	return e.use(m, rec, &f, found)
}

// finds are the raw values of the members that the encoder reads; nil
// when absent.
type finds struct{ hdrs, ts, key, key64 []byte }

// find notes member name's raw value in f when the encoder reads it, and
// reports whether it is the headers field (which the value leaves out). A
// name that appears twice: the first counts, as gjson reads.
func (e *encoder) find(f *finds, name string, raw []byte) (headers bool) {
	if e.keyTop && f.key == nil && name == e.cfg.KeyField {
		f.key = raw
	}
	if e.keyTop && f.key64 == nil && name == e.key64 {
		f.key64 = raw
	}
	if e.cfg.TimestampField != "" && f.ts == nil && name == e.cfg.TimestampField {
		f.ts = raw
	}
	if e.cfg.HeadersField != "" && name == e.cfg.HeadersField {
		if f.hdrs == nil {
			f.hdrs = raw
		}
		return true
	}
	return false
}

// use sets the key found, and m's headers and timestamp, from f.
func (e *encoder) use(m *sarama.ProducerMessage, rec []byte, f *finds, found *foundKey) error {
	switch {
	case f.key != nil:
		found.key, found.ok = record.KeyTextRaw(f.key)
	case f.key64 != nil && bytes.IndexByte(f.key64, '\\') >= 0:
		found.key, found.ok = e.key.Key(rec) // escaped base64: rare, read as gjson does
	case f.key64 != nil && f.key64[0] == '"':
		k, err := base64.StdEncoding.AppendDecode(nil, f.key64[1:len(f.key64)-1])
		found.key, found.ok = k, err == nil
	}
	if err := e.headers(m, f.hdrs); err != nil {
		return err
	}
	return e.timestamp(m, f.ts)
}

// The chunks of encode's arena (one arena per write) start at
// firstArenaChunk and double up to arenaChunk, so that a small batch (a few
// records at a low rate) does not allocate a whole arenaChunk: a write of
// 8 records took 64 KiB each, and at 10k records/s that garbage doubled the
// GC's share of the CPU. A record that strips nothing leaves its chunk for
// the next one, so most writes of records without headers take one chunk.
const (
	firstArenaChunk = 4 << 10
	arenaChunk      = 64 << 10
)

// nextChunk is the capacity of the arena chunk after one of capacity prev
// (0 for the first), for a record of need bytes.
func nextChunk(prev, need int) int {
	return max(need, min(arenaChunk, max(firstArenaChunk, 2*prev)))
}

// headers sets m's headers: the record's (hdrs, the headers field's raw
// JSON; nil when absent), then each static header whose name they lack.
func (e *encoder) headers(m *sarama.ProducerMessage, hdrs []byte) error {
	if hdrs != nil && string(hdrs) != "null" {
		err := record.EachHeader(hdrs, func(k, v []byte) {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: k, Value: v})
		})
		if err != nil {
			return fmt.Errorf("headers_field %q: %w", e.cfg.HeadersField, err)
		}
	}
	own := len(m.Headers)
	for _, h := range e.static {
		if !hasHeader(m.Headers[:own], h.Key) {
			m.Headers = append(m.Headers, h)
		}
	}
	return nil
}

func hasHeader(hs []sarama.RecordHeader, key []byte) bool {
	for _, h := range hs {
		if string(h.Key) == string(key) {
			return true
		}
	}
	return false
}

// timestamp sets m's timestamp from the timestamp field's raw JSON (nil
// when absent): epoch milliseconds (a number or a string of digits) or
// RFC 3339 text. Absent, null or 0 leave it zero: the produce time.
func (e *encoder) timestamp(m *sarama.ProducerMessage, raw []byte) error {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	if ms, ok := digits(raw); ok { // the usual: epoch ms as the source writes it
		if ms != 0 {
			m.Timestamp = time.UnixMilli(ms)
		}
		return nil
	}
	ms, err := epochMillis(gjson.Parse(string(raw)))
	if err != nil {
		return fmt.Errorf("timestamp_field %q: %s %w", e.cfg.TimestampField, record.Clip(raw), err)
	}
	if ms != 0 {
		m.Timestamp = time.UnixMilli(ms)
	}
	return nil
}

// digits reads a non-negative decimal integer written without sign,
// fraction or exponent.
func digits(raw []byte) (int64, bool) {
	if len(raw) == 0 || len(raw) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

var errTimestamp = errors.New("is not a timestamp: want epoch milliseconds (>= 0) or RFC 3339 text such as \"2026-12-07T15:04:05.123Z\"")

func epochMillis(v gjson.Result) (int64, error) {
	switch v.Type {
	case gjson.Number:
		if ms, err := strconv.ParseInt(v.Raw, 10, 64); err == nil && ms >= 0 {
			return ms, nil
		}
		if v.Num >= 0 && v.Num < 1<<53 && v.Num == float64(int64(v.Num)) { // 1.7e12
			return int64(v.Num), nil
		}
	case gjson.String:
		if ms, err := strconv.ParseInt(v.Str, 10, 64); err == nil && ms >= 0 {
			return ms, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, v.Str); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, errTimestamp
}

// encSlots hold a record's value and key for sarama, used by pointer from a
// slice made once per Send: a sarama.ByteEncoder put in a message's Key or
// Value is boxed, two allocations per record. A nil *encSlots (the
// per-message sink) boxes.
type encSlots struct {
	v, k bytesEncoder
	// check: this record of the write goes to the member scan with the
	// check at once, since one before it had headers (Sink.Send carries it
	// from record to record): records with headers are usually all of a
	// write, and peeking at them first costs a scan more.
	check bool
}

func (s *encSlots) checks() bool { return s != nil && s.check }

func (s *encSlots) setChecks() {
	if s != nil {
		s.check = true
	}
}

func (s *encSlots) value(b []byte) sarama.Encoder {
	if s == nil {
		return sarama.ByteEncoder(b)
	}
	s.v.b = b
	return &s.v
}

func (s *encSlots) key(b []byte) sarama.Encoder {
	if s == nil {
		return sarama.ByteEncoder(b)
	}
	s.k.b = b
	return &s.k
}

// keyOf reads rec's key. With slots (the batching sink, whose records
// outlive the send) the key may be a slice of rec (record.KeyPath.KeyIn).
func (s *encSlots) keyOf(p record.KeyPath, rec []byte) ([]byte, bool) {
	if s == nil {
		return p.Key(rec)
	}
	return p.KeyIn(rec)
}

// bytesEncoder is a sarama.Encoder of bytes, used by pointer.
type bytesEncoder struct{ b []byte }

func (e *bytesEncoder) Encode() ([]byte, error) { return e.b, nil }
func (e *bytesEncoder) Length() int             { return len(e.b) }
