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

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
)

// Names of the members that Enrich adds to a record.
const (
	PayloadField   = "_kafka_payload"
	KeyField       = "_kafka_key"
	KeyBase64Field = "_kafka_key_base64"
	// KeySchemaIDField follows a key decoded with its schema (Meta.KeyJSON).
	KeySchemaIDField = "_kafka_key_schema_id"
	PartitionField   = "_kafka_partition"
	OffsetField      = "_kafka_offset"
	TimestampField   = "_kafka_timestamp"
)

// RenamePrefix is put before the name of a payload's own member that is
// named like one Enrich adds (see Enrich).
const RenamePrefix = "_payload_"

// Meta is the Kafka metadata of a consumed message.
type Meta struct {
	Key     []byte // message key; written as a JSON string
	KeyNull bool   // the message has no key; written as null
	// KeyJSON, when not nil, is the key decoded with its schema (a kafka
	// source's key_format): a valid JSON value written as "_kafka_key"
	// instead of Key, followed by "_kafka_key_schema_id":KeySchemaID.
	KeyJSON     []byte
	KeySchemaID int
	ValueNull   bool // the message has no value (a tombstone)
	Partition   int32
	Offset      int64
	Timestamp   int64 // milliseconds since the Unix epoch
	// Headers is the message's headers as AppendHeaders writes them;
	// empty when the message has none (the record then has no
	// _kafka_headers member).
	Headers []byte
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
// appended as its last members, and then "_kafka_headers":{...} (m.Headers)
// when the message has headers: a record without headers is the same bytes
// as before headers were exposed. Member order, number text and string escapes
// are kept exactly as in the input; only whitespace outside strings is
// removed. Invalid UTF-8 bytes inside strings are replaced by \ufffd (one per
// byte, as encoding/json does when decoding), so the result is always valid
// UTF-8.
//
// A top-level member of the input whose name (however escaped) is one that
// Enrich adds (_kafka_payload, _kafka_key, _kafka_key_base64,
// _kafka_partition, _kafka_offset, _kafka_timestamp, _kafka_headers), behind any number of
// RenamePrefix, is kept in place with one more RenamePrefix before its name:
// "_kafka_key" becomes "_payload__kafka_key", and "_payload__kafka_key"
// becomes "_payload__payload__kafka_key". So the plain names always hold the
// metadata, with every decoder (encoding/json keeps the last duplicate,
// gjson and so Path.Get the first), and no two members end up with the same
// name; removing one RenamePrefix gives the payload's own name back.
//
// Any other value (invalid JSON, an array, a scalar, an empty payload, or
// nesting deeper than 10000 levels, which encoding/json rejects too) is
// wrapped as a string:
//
//	{"_kafka_payload":"<value>","_kafka_key":<key>,...}
//
// escaped exactly as encoding/json does with SetEscapeHTML(false). A message
// without a value (m.ValueNull, a tombstone) gives "_kafka_payload":null,
// whatever value holds; IsTombstone recognizes such a record.
//
// The key is written as a JSON string escaped the same way, or null if
// m.KeyNull is set (a nil Key with KeyNull unset gives ""). A key that is not
// valid UTF-8 is written instead as "_kafka_key_base64":"<standard base64>",
// and "_kafka_key" is then absent.
func Enrich(dst []byte, value []byte, m Meta) []byte {
	out, _ := EnrichChecked(dst, value, m)
	return out
}

// EnrichChecked is Enrich that also reports whether value is malformed: not
// valid JSON (invalid or truncated text, or nesting deeper than
// encoding/json allows). A valid JSON value that is not an object (an array,
// a number, a string, null), an empty or all-whitespace value and a
// tombstone (m.ValueNull) are not malformed: they are wrapped as the spec
// says. Only a wrapped value is checked, so a JSON object costs nothing more
// than Enrich.
func EnrichChecked(dst []byte, value []byte, m Meta) (out []byte, malformed bool) {
	if m.ValueNull {
		dst = append(dst, `{"`+PayloadField+`":null,`...)
		return appendMeta(dst, m), false
	}
	i := jsonscan.SkipSpace(value, 0)
	if i < len(value) && value[i] == '{' {
		start := len(dst)
		out, ok := appendCompact(dst, value, true)
		if ok {
			if len(out)-start == len("{}") {
				out = out[:len(out)-1] // keep "{": no comma before the metadata
			} else {
				out[len(out)-1] = ',' // the object's closing brace
			}
			return appendMeta(out, m), false
		}
		dst, malformed = out, true // truncated to start; its storage may have grown
	} else if i < len(value) {
		// Validated by compacting it after dst, then dropped: no allocation
		// beyond growing dst, which the wrapped text needs anyway.
		out, ok := appendCompact(dst, value, false)
		dst, malformed = out[:len(dst)], !ok
	}
	dst = append(dst, `{"`+PayloadField+`":`...)
	dst = appendString(dst, value)
	dst = append(dst, ',')
	return appendMeta(dst, m), malformed
}

// appendMeta appends the metadata members and the closing brace.
func appendMeta(dst []byte, m Meta) []byte {
	switch i := jsonscan.SkipSafe(m.Key, 0); {
	case m.KeyJSON != nil:
		dst = append(dst, `"`+KeyField+`":`...)
		dst = append(dst, m.KeyJSON...)
		dst = append(dst, `,"`+KeySchemaIDField+`":`...)
		dst = strconv.AppendInt(dst, int64(m.KeySchemaID), 10)
	case m.KeyNull:
		dst = append(dst, `"`+KeyField+`":null`...)
	case i == len(m.Key): // the usual key: nothing to escape or check
		dst = append(dst, `"`+KeyField+`":"`...)
		dst = append(dst, m.Key...)
		dst = append(dst, '"')
	case utf8.Valid(m.Key[i:]):
		dst = append(dst, `"`+KeyField+`":`...)
		dst = appendString(dst, m.Key)
	default:
		dst = append(dst, `"`+KeyBase64Field+`":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, m.Key)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"`+PartitionField+`":`...)
	dst = strconv.AppendInt(dst, int64(m.Partition), 10)
	dst = append(dst, `,"`+OffsetField+`":`...)
	dst = strconv.AppendInt(dst, m.Offset, 10)
	dst = append(dst, `,"`+TimestampField+`":`...)
	dst = strconv.AppendInt(dst, m.Timestamp, 10)
	if len(m.Headers) > 0 {
		dst = append(dst, `,"`+HeadersField+`":`...)
		dst = append(dst, m.Headers...)
	}
	return append(dst, '}')
}

// IsTombstone reports whether rec, a JSON record, has a top-level
// "_kafka_payload" member that is null: what Enrich makes of a message
// without a value.
func IsTombstone(rec []byte) bool {
	r := payloadPath.Get(rec)
	return r.Type == gjson.Null && r.Exists()
}

var payloadPath = CompilePath(PayloadField)

// Wrap appends to dst the record made of a value that is not a JSON object
// (an array, a scalar, invalid JSON, empty): {"_kafka_payload":"<value>"},
// the value escaped as Enrich escapes it, without metadata. Sources that
// take payloads from elsewhere than Kafka wrap them so.
func Wrap(dst []byte, value []byte) []byte {
	dst = append(dst, `{"`+PayloadField+`":`...)
	dst = appendString(dst, value)
	return append(dst, '}')
}
