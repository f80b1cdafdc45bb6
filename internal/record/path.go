package record

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Path reads one column of a JSON record. Build it once with CompilePath and
// reuse it for every record. The zero Path matches nothing.
type Path struct {
	gjson string // the column as a gjson path with special characters escaped
}

// CompilePath compiles a column name. A '.' separates nested keys, so
// "user.id" reads 1 from {"user":{"id":1}}; a key that is all digits also
// indexes an array ("tags.0"). Every other character is literal: gjson's
// wildcards, queries, modifiers and escapes (* ? | # @ ! = < > % \ [ ] { }
// and the like) are escaped. A top-level key that itself contains a '.' can
// therefore not be addressed. An empty column matches nothing.
func CompilePath(column string) Path {
	p := make([]byte, 0, len(column)+4)
	for i := 0; i < len(column); i++ {
		b := column[i]
		if b != '.' && !isPlainPathChar(b) {
			p = append(p, '\\')
		}
		p = append(p, b)
	}
	return Path{gjson: string(p)}
}

// isPlainPathChar reports the bytes that have no special meaning in a gjson
// path; this is gjson's own set of characters that Escape leaves alone.
func isPlainPathChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b <= ' ' || b > '~' || b == '_' || b == '-' || b == ':'
}

// Get returns the column's value in the JSON record value. The result does
// not refer to value's memory, so it stays valid if value is reused. A
// missing column gives a result whose Exists method reports false.
func (p Path) Get(value []byte) gjson.Result {
	if p.gjson == "" {
		return gjson.Result{}
	}
	return gjson.GetBytes(value, p.gjson)
}

// KeyText returns the text of a field for use as a Kafka message key: a
// string's unescaped value (possibly empty), a number's literal text ("123",
// "1.5", "1e3"), or "true"/"false". Null, objects, arrays and missing
// fields give ok == false.
func KeyText(r gjson.Result) (key []byte, ok bool) {
	switch r.Type {
	case gjson.String:
		return []byte(r.Str), true
	case gjson.Number:
		if r.Raw == "" { // a result built by hand or by a modifier
			return strconv.AppendFloat(nil, r.Num, 'f', -1, 64), true
		}
		return []byte(r.Raw), true
	case gjson.True:
		return []byte("true"), true
	case gjson.False:
		return []byte("false"), true
	}
	return nil, false
}

// KeyTextRaw is KeyText for a value as written in a record (raw JSON, as
// Member.Raw gives it). The key may share raw's memory.
func KeyTextRaw(raw []byte) (key []byte, ok bool) {
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		if bytes.IndexByte(raw, '\\') < 0 {
			return raw[1 : len(raw)-1], true
		}
	case 'n', '{', '[':
		return nil, false
	case 't', 'f':
	default: // a number: its text
		return raw, true
	}
	return KeyText(gjson.Parse(string(raw)))
}

// KeyPath reads a Kafka message key from a JSON record. Build it once with
// CompileKeyPath and reuse it for every record. The zero KeyPath finds no
// key.
type KeyPath struct {
	text, base64 Path
}

// CompileKeyPath compiles a key column (see CompilePath) together with its
// "_base64" sibling: "_kafka_key" also reads "_kafka_key_base64", where
// Enrich writes a key that is not valid UTF-8.
func CompileKeyPath(column string) KeyPath {
	if column == "" {
		return KeyPath{}
	}
	return KeyPath{text: CompilePath(column), base64: CompilePath(column + "_base64")}
}

// Key returns the key that the record value holds: the column's KeyText,
// or, when the column is missing, the bytes that its "_base64" sibling, a
// string of standard base64, decodes to. ok is false when neither gives a
// key.
func (p KeyPath) Key(value []byte) (key []byte, ok bool) {
	if r := p.text.Get(value); r.Exists() {
		return KeyText(r)
	}
	r := p.base64.Get(value)
	if r.Type != gjson.String {
		return nil, false
	}
	key, err := base64.StdEncoding.DecodeString(r.Str)
	if err != nil {
		return nil, false
	}
	return key, true
}

// KeyIn is Key, except that the key it returns may be a slice of value
// itself (a string without escapes, or a number: the usual key), which
// costs no allocation. The caller must leave value unchanged while it uses
// the key; Key's result is a copy.
func (p KeyPath) KeyIn(value []byte) (key []byte, ok bool) {
	if p.text.gjson == "" {
		return nil, false
	}
	r := gjson.Get(unsafe.String(unsafe.SliceData(value), len(value)), p.text.gjson)
	if r.Index > 0 && r.Index+len(r.Raw) <= len(value) {
		raw := value[r.Index : r.Index+len(r.Raw) : r.Index+len(r.Raw)]
		switch {
		case r.Type == gjson.String && len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0:
			return raw[1 : len(raw)-1 : len(raw)-1], true
		case r.Type == gjson.Number:
			return raw, true
		}
	}
	return p.Key(value)
}
