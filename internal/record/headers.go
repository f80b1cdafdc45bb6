package record

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// HeadersField is the member that holds a message's headers (see
// AppendHeaders); Enrich adds it only to a message that has headers.
const HeadersField = "_kafka_headers"

// Header is one Kafka record header. A nil Value is a null value (Kafka
// tells it from an empty one).
type Header struct {
	Key, Value []byte
}

// AppendHeaders appends to dst hs as the JSON object that the kafka source
// writes as _kafka_headers and the kafka sink reads back (see EachHeader),
// the one shape of headers in a record:
//
//	{"traceparent":"00-…-01","tag":["a","b"],"bin":{"base64":"/wA="},"none":null}
//
// Each name appears once, in the order of its first header. A name with one
// header holds its value; a repeated name holds an array of its values, in
// order. A value is a JSON string when it is valid UTF-8, {"base64":"…"}
// (standard base64) when it is not, and null for a null value. Names and
// strings are escaped as Enrich escapes strings (a name that is not valid
// UTF-8, which Java clients cannot write, gets U+FFFD).
func AppendHeaders(dst []byte, hs []Header) []byte {
	dst = append(dst, '{')
	first := true
	for i, h := range hs {
		if seenBefore(hs[:i], h.Key) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(appendString(dst, h.Key), ':')
		n := 1
		for _, o := range hs[i+1:] {
			if bytes.Equal(o.Key, h.Key) {
				n++
			}
		}
		if n == 1 {
			dst = appendHeaderValue(dst, h.Value)
			continue
		}
		dst = append(dst, '[')
		dst = appendHeaderValue(dst, h.Value)
		for _, o := range hs[i+1:] {
			if bytes.Equal(o.Key, h.Key) {
				dst = appendHeaderValue(append(dst, ','), o.Value)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func seenBefore(hs []Header, key []byte) bool {
	for _, h := range hs {
		if bytes.Equal(h.Key, key) {
			return true
		}
	}
	return false
}

// appendHeaderValue appends one header value as AppendHeaders writes it.
func appendHeaderValue(dst, v []byte) []byte {
	switch {
	case v == nil:
		return append(dst, "null"...)
	case utf8.Valid(v):
		return appendString(dst, v)
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, v)
	return append(dst, `"}`...)
}

// EachHeader calls fn for each header that the JSON object raw holds, in
// order: each name in turn, a repeated name's values in array order. It
// reads what AppendHeaders writes, and also what a person or an operator
// writes: a value may be a string, null (a null value), {"base64":"…"}, a
// number or a boolean (its JSON text), or an array of those. Anything else,
// or raw not being an object, is an error that names the header; fn is
// then not called at all.
func EachHeader(raw []byte, fn func(key, value []byte)) error {
	obj := gjson.ParseBytes(raw)
	if !obj.IsObject() {
		return fmt.Errorf("want an object of header names to values, got %s", Clip(raw))
	}
	var err error
	obj.ForEach(func(k, v gjson.Result) bool {
		if v.IsArray() {
			v.ForEach(func(_, e gjson.Result) bool {
				_, err = headerValue(k.Str, e)
				return err == nil
			})
		} else {
			_, err = headerValue(k.Str, v)
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		key := []byte(k.Str)
		if !v.IsArray() {
			val, _ := headerValue(k.Str, v)
			fn(key, val)
			return true
		}
		v.ForEach(func(_, e gjson.Result) bool {
			val, _ := headerValue(k.Str, e)
			fn(key, val)
			return true
		})
		return true
	})
	return nil
}

// headerValue decodes one header value (not an array).
func headerValue(name string, v gjson.Result) ([]byte, error) {
	switch v.Type {
	case gjson.String:
		return []byte(v.Str), nil
	case gjson.Null:
		return nil, nil
	case gjson.Number, gjson.True, gjson.False:
		return []byte(v.Raw), nil
	}
	if b64 := v.Get("base64"); v.IsObject() && b64.Type == gjson.String && countMembers(v) == 1 {
		out, err := base64.StdEncoding.DecodeString(b64.Str)
		if err != nil {
			return nil, fmt.Errorf("header %q: %q is not standard base64: %w", name, b64.Str, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf(`header %q: want a string, null, {"base64": "..."}, a number, a boolean or an array of those, got %s`, name, Clip([]byte(v.Raw)))
}

func countMembers(v gjson.Result) int {
	n := 0
	v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
	return n
}

// Clip returns a JSON text for an error message, shortened to 80 bytes
// (and "…") when it is longer.
func Clip(raw []byte) string {
	const most = 80
	if len(raw) > most {
		return string(raw[:most]) + "…"
	}
	return string(raw)
}
