// Package record implements byte-level operations on JSON records as they
// travel through a pipeline: enriching a Kafka message value with its
// metadata (Enrich), reading fields by column name (CompilePath, Path.Get),
// turning a field into a Kafka key (KeyText), and validating and compacting
// a record in one pass (AppendCompact).
//
// Everything here works on the raw JSON bytes; nothing decodes a record into
// map[string]any, so these functions are cheap enough for the per-record hot
// path.
package record

import "strconv"

// Names of the members that Enrich adds to a record.
const (
	PayloadField   = "_kafka_payload"
	KeyField       = "_kafka_key"
	PartitionField = "_kafka_partition"
	OffsetField    = "_kafka_offset"
	TimestampField = "_kafka_timestamp"
)

// Meta is the Kafka metadata of a consumed message.
type Meta struct {
	Key       []byte // message key; written as a JSON string
	KeyNull   bool   // the message has no key; written as null
	Partition int32
	Offset    int64
	Timestamp int64 // milliseconds since the Unix epoch
}

// Enrich appends to dst the record that the Kafka source emits for a message
// with the given value and metadata, and returns the extended buffer. dst may
// be a reused buffer (pass dst[:0]); it must not overlap value.
//
// If value is a valid JSON object (surrounding whitespace allowed), the
// result is that object compacted, with the members
//
//	"_kafka_key":<key>,"_kafka_partition":N,"_kafka_offset":N,"_kafka_timestamp":N
//
// appended as its last members. Member order, number text and string escapes
// are kept exactly as in the input; only whitespace outside strings is
// removed. Invalid UTF-8 bytes inside strings are replaced by \ufffd (one per
// byte, as encoding/json does when decoding), so the result is always valid
// UTF-8. Top-level members of the input that have one of the added names
// (however their names are escaped) are dropped, so the metadata wins with
// every decoder: encoding/json keeps the last duplicate but gjson, and so
// Path.Get, the first. A "_kafka_payload" member is kept.
//
// Any other value (invalid JSON, an array, a scalar, an empty payload, or
// nesting deeper than 10000 levels, which encoding/json rejects too) is
// wrapped as a string:
//
//	{"_kafka_payload":"<value>","_kafka_key":<key>,...}
//
// escaped exactly as encoding/json does with SetEscapeHTML(false).
//
// The key is written as a JSON string escaped the same way, or null if
// m.KeyNull is set (a nil Key with KeyNull unset gives "").
func Enrich(dst []byte, value []byte, m Meta) []byte {
	start := len(dst)
	if i := skipSpace(value, 0); i < len(value) && value[i] == '{' {
		out, ok, metaFound := appendCompact(dst, value, true)
		if ok {
			if metaFound {
				out = out[:start+len(dropMetaMembers(out[start:]))]
			}
			if len(out)-start == len("{}") {
				out = out[:len(out)-1] // keep "{": no comma before the metadata
			} else {
				out[len(out)-1] = ',' // the object's closing brace
			}
			return appendMeta(out, m)
		}
		dst = out // truncated to start; its storage may have grown
	}
	dst = append(dst, `{"`+PayloadField+`":`...)
	dst = appendString(dst, value)
	dst = append(dst, ',')
	return appendMeta(dst, m)
}

// appendMeta appends the metadata members and the closing brace.
func appendMeta(dst []byte, m Meta) []byte {
	dst = append(dst, `"`+KeyField+`":`...)
	if m.KeyNull {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, m.Key)
	}
	dst = append(dst, `,"`+PartitionField+`":`...)
	dst = strconv.AppendInt(dst, int64(m.Partition), 10)
	dst = append(dst, `,"`+OffsetField+`":`...)
	dst = strconv.AppendInt(dst, m.Offset, 10)
	dst = append(dst, `,"`+TimestampField+`":`...)
	dst = strconv.AppendInt(dst, m.Timestamp, 10)
	return append(dst, '}')
}
