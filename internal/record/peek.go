package record

import (
	"unsafe"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
)

// PeekMembers calls fn with the name and raw value of each top-level member
// of obj, in order, until fn returns false, stepping over the values
// without checking them. For a valid JSON object it calls fn as Members
// does, for less work; for bytes that are not one it may call fn where a
// check would refuse them. It returns false, maybe after calling fn for the
// members before, when a name holds an escape (it would need decoding) or
// when obj does not have an object's shape: the caller then uses Members.
// The name refers to obj's memory: fn must not keep it.
func PeekMembers(obj []byte, fn func(name string, value []byte) bool) bool {
	i := jsonscan.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	if i = jsonscan.SkipSpace(obj, i+1); i < len(obj) && obj[i] == '}' {
		return true
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return false
		}
		end, escaped := peekString(obj, i+1)
		if end < 0 || escaped {
			return false
		}
		name := obj[i+1 : end-1]
		if i = skipSpace(obj, end); i >= len(obj) || obj[i] != ':' {
			return false
		}
		v := skipSpace(obj, i+1)
		if i = peekValue(obj, v); i < 0 {
			return false
		}
		if !fn(unsafe.String(unsafe.SliceData(name), len(name)), obj[v:i]) {
			return true
		}
		switch i = skipSpace(obj, i); {
		case i < len(obj) && obj[i] == ',':
			i = skipSpace(obj, i+1)
		case i < len(obj) && obj[i] == '}':
			return true
		default:
			return false
		}
	}
}

// peekString returns the index after the closing quote of the string whose
// rest starts at i, or -1, and whether it holds an escape.
func peekString(s []byte, i int) (end int, escaped bool) {
	for {
		if i = jsonscan.SkipSafe(s, i); i >= len(s) {
			return -1, escaped
		}
		switch s[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			i += 2
		default: // a control byte or one of UTF-8: not checked
			i++
		}
	}
}

// peekValue returns the index after the value at s[i], or -1: a string to
// its closing quote, an object or array to its balanced end, anything else
// (a number or literal) to the next delimiter.
func peekValue(s []byte, i int) int {
	if i >= len(s) {
		return -1
	}
	switch s[i] {
	case '"':
		end, _ := peekString(s, i+1)
		return end
	case '{', '[':
		return skipNested(s, i)
	}
	j := i
	for j < len(s) && s[j]-'0' < 10 { // the usual number: digits only
		j++
	}
	for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && !jsonscan.IsSpace(s[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// skipSpace is jsonscan.SkipSpace with the usual case, no space, first.
func skipSpace(s []byte, i int) int {
	if i < len(s) && s[i] > ' ' {
		return i
	}
	return jsonscan.SkipSpace(s, i)
}
