package record

import "encoding/base64"

// The members a source wraps a value in that does not decode with the
// schema its registry id names (a kafka source's value_format): the value's
// bytes as base64, as binary cannot be text, and why it did not decode.
// The runtime's invalid handling gives the bytes to the dead-letter queue
// and the reason to the error.
const (
	PayloadBase64Field = "_kafka_payload_base64"
	SchemaErrorField   = "_kafka_schema_error"
)

// AppendUndecodable appends the JSON object a value that did not decode
// with its schema becomes: its bytes as base64 and why, for the source's
// invalid handling (the metadata follows, by Enrich).
func AppendUndecodable(dst, value []byte, why error) []byte {
	dst = append(dst, `{"`+PayloadBase64Field+`":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, value)
	dst = append(dst, `","`+SchemaErrorField+`":`...)
	return append(AppendString(dst, why.Error()), '}')
}
