package record

import (
	"bytes"
	"encoding/json"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
)

// Members calls fn with each top-level member of the JSON object obj, in
// order: its name (unescaped; it refers to obj's memory unless the key
// holds escapes, so fn must not keep it), and its key (quotes included) and
// value as written, which refer to obj's memory. It stops when fn returns
// false. It returns false when obj is not an object, or when it meets bytes
// that do not continue one (fn may have been called for the members
// before); it checks the tokens it steps over, not the nesting inside a
// value.
func Members(obj []byte, fn func(name string, key, value []byte) bool) bool {
	return MemberSpans(obj, func(name string, key, keyEnd, value, end int) bool {
		return fn(name, obj[key:keyEnd], obj[value:end])
	})
}

// MemberSpans is [Members] by index into obj: a member's key is
// obj[key:keyEnd], its value obj[value:end].
func MemberSpans(obj []byte, fn func(name string, key, keyEnd, value, end int) bool) bool {
	i := jsonscan.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	if i = jsonscan.SkipSpace(obj, i+1); i < len(obj) && obj[i] == '}' {
		return jsonscan.SkipSpace(obj, i+1) == len(obj)
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return false
		}
		start := i
		var name string
		if q := jsonscan.QuickString(obj, i+1); q > 0 { // a short key of safe bytes: no escape
			i = q
			name = unsafe.String(&obj[start+1], i-start-2)
		} else {
			var res jsonscan.Result
			if i, res = jsonscan.String(obj, i+1); res > jsonscan.Repair {
				return false
			}
			name = keyName(obj[start:i])
		}
		keyEnd := i
		if i = jsonscan.SkipSpace(obj, i); i >= len(obj) || obj[i] != ':' {
			return false
		}
		v := jsonscan.SkipSpace(obj, i+1)
		if i = skipValue(obj, v); i < 0 {
			return false
		}
		if !fn(name, start, keyEnd, v, i) {
			return true
		}
		switch i = jsonscan.SkipSpace(obj, i); {
		case i < len(obj) && obj[i] == ',':
			i = jsonscan.SkipSpace(obj, i+1)
		case i < len(obj) && obj[i] == '}':
			return jsonscan.SkipSpace(obj, i+1) == len(obj)
		default:
			return false
		}
	}
}

// keyName is a raw key's name: its bytes when it holds no escape.
func keyName(key []byte) string {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return unsafe.String(unsafe.SliceData(inner), len(inner))
	}
	var s string
	_ = json.Unmarshal(key, &s)
	return s
}

// skipValue returns the index after the value at src[i], or -1.
func skipValue(src []byte, i int) int {
	if i >= len(src) {
		return -1
	}
	var res jsonscan.Result
	switch c := src[i]; {
	case c == '"':
		if q := jsonscan.QuickString(src, i+1); q > 0 {
			return q
		}
		i, res = jsonscan.String(src, i+1)
	case c == '{' || c == '[':
		return skipNested(src, i)
	case c == 't':
		i, res = jsonscan.Literal(src, i, "true")
	case c == 'f':
		i, res = jsonscan.Literal(src, i, "false")
	case c == 'n':
		i, res = jsonscan.Literal(src, i, "null")
	default:
		i, res = jsonscan.Number(src, i)
	}
	if res > jsonscan.Repair {
		return -1
	}
	return i
}

// skipNested returns the index after the object or array at src[i]
// (brackets balanced, strings stepped over), or -1.
func skipNested(src []byte, i int) int {
	depth := 0
	for i < len(src) {
		switch src[i] {
		case '"':
			var res jsonscan.Result
			if i, res = jsonscan.String(src, i+1); res > jsonscan.Repair {
				return -1
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// Peek is Get without the copy: the result's Raw and Str may refer to rec's
// memory, so it is valid only while rec is not written.
func (p Path) Peek(rec []byte) gjson.Result {
	if p.gjson == "" {
		return gjson.Result{}
	}
	return gjson.Get(unsafe.String(unsafe.SliceData(rec), len(rec)), p.gjson)
}

// Raw returns the value at p in rec as written, referring to rec's memory
// (unlike Path.Get's result), and whether it exists.
func (p Path) Raw(rec []byte) ([]byte, bool) {
	r := p.Peek(rec)
	return unsafe.Slice(unsafe.StringData(r.Raw), len(r.Raw)), r.Exists()
}
