package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the reference that Enrich is tested against: a full,
// order- and number-preserving decode of the input followed by a compact
// encode with encoding/json (SetEscapeHTML(false)).

// member and object keep an object's members in input order, duplicates
// included.
type member struct {
	key string
	val any
}

type object []member

// refDecode decodes one JSON value from data into nil, bool, json.Number,
// string, []any or object.
func refDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := refValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after value: %v", err)
	}
	return v, nil
}

func refValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := refValue(dec)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{k.(string), v})
		}
		_, err := dec.Token() // '}'
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := refValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ']'
		return arr, err
	}
	return tok, nil
}

// refEncode appends the compact encoding of v.
func refEncode(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			refEncode(buf, m.key)
			buf.WriteByte(':')
			refEncode(buf, m.val)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			refEncode(buf, e)
		}
		buf.WriteByte(']')
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
}

// refCanonical re-encodes data through the reference, normalizing string
// escapes to encoding/json's form.
func refCanonical(data []byte) ([]byte, error) {
	v, err := refDecode(data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	refEncode(&buf, v)
	return buf.Bytes(), nil
}

// isObject reports whether data is what Enrich passes through: valid JSON
// (by encoding/json's rules) whose first non-space byte is '{'.
func isObject(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return json.Valid(data) && len(t) > 0 && t[0] == '{'
}

// refReserved reports whether a payload member's name is one that Enrich
// adds, behind any number of RenamePrefix.
func refReserved(name string) bool {
	for strings.HasPrefix(name, RenamePrefix) {
		name = name[len(RenamePrefix):]
	}
	switch name {
	case PayloadField, KeyField, KeyBase64Field, PartitionField, OffsetField, TimestampField, HeadersField:
		return true
	}
	return false
}

// refEnrich is the reference for Enrich.
func refEnrich(value []byte, m Meta) []byte {
	obj := object{}
	switch {
	case m.ValueNull:
		obj = object{{PayloadField, nil}}
	case isObject(value):
		v, err := refDecode(value)
		if err != nil {
			panic(fmt.Sprintf("json.Valid accepted %q but the decoder failed: %v", value, err))
		}
		// Members named like the metadata are kept under a prefixed name.
		for _, mb := range v.(object) {
			if refReserved(mb.key) {
				mb.key = RenamePrefix + mb.key
			}
			obj = append(obj, mb)
		}
	default:
		obj = object{{PayloadField, string(value)}}
	}
	switch {
	case m.KeyNull:
		obj = append(obj, member{KeyField, nil})
	case utf8.Valid(m.Key):
		obj = append(obj, member{KeyField, string(m.Key)})
	default:
		obj = append(obj, member{KeyBase64Field, base64.StdEncoding.EncodeToString(m.Key)})
	}
	obj = append(obj,
		member{PartitionField, json.Number(strconv.FormatInt(int64(m.Partition), 10))},
		member{OffsetField, json.Number(strconv.FormatInt(m.Offset, 10))},
		member{TimestampField, json.Number(strconv.FormatInt(m.Timestamp, 10))},
	)
	if len(m.Headers) > 0 {
		obj = append(obj, member{HeadersField, json.RawMessage(m.Headers)})
	}
	var buf bytes.Buffer
	refEncode(&buf, obj)
	return buf.Bytes()
}
