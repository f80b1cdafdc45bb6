package record

import (
	"bytes"
	"encoding/json"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
)

// Member is one top-level member of a JSON object, found by EachMember: its
// bytes are Object[Start:End], from the name's opening quote to the end of
// the value, and its value's are Object[Value:End].
type Member struct {
	Object            []byte
	Start, Value, End int
	nameEnd           int // after the name's closing quote
}

// Name returns the member's name, unescaped.
func (m Member) Name() []byte {
	raw := m.rawName()
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return []byte(s)
}

// NameIs reports whether the member's name is name; cheaper than Name:
// an escape only ever makes a name longer than it reads, so most names
// are told apart by their length.
func (m Member) NameIs(name string) bool {
	raw := m.Object[m.Start+1 : m.nameEnd-1]
	switch {
	case len(raw) == len(name):
		return string(raw) == name
	case len(raw) < len(name):
		return false
	}
	return bytes.IndexByte(raw, '\\') >= 0 && string(m.Name()) == name
}

// HasPrefix reports whether the member's name starts with prefix.
func (m Member) HasPrefix(prefix string) bool {
	raw := m.rawName()
	if bytes.IndexByte(raw, '\\') < 0 {
		return bytes.HasPrefix(raw[1:], []byte(prefix)) && len(raw)-2 >= len(prefix)
	}
	return bytes.HasPrefix(m.Name(), []byte(prefix))
}

// Raw returns the member's value as written.
func (m Member) Raw() []byte { return m.Object[m.Value:m.End] }

func (m Member) rawName() []byte { return m.Object[m.Start:m.nameEnd] }

// EachMember calls fn for each top-level member of the JSON object obj, in
// order, until fn returns false. It reports false, having called fn for
// none or some members, when obj is not a valid JSON object; it does not
// check the values' insides beyond finding where they end.
func EachMember(obj []byte, fn func(Member) bool) bool {
	i := jsonscan.SkipSpace(obj, 0)
	if i == len(obj) || obj[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return jsonscan.SkipSpace(obj, i+1) == len(obj)
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return false
		}
		start := i
		end, r := jsonscan.String(obj, i+1)
		if r > jsonscan.Repair {
			return false
		}
		i = jsonscan.SkipSpace(obj, end)
		if i == len(obj) || obj[i] != ':' {
			return false
		}
		value := jsonscan.SkipSpace(obj, i+1)
		if i = skipValue(obj, value); i < 0 {
			return false
		}
		if !fn(Member{Object: obj, Start: start, Value: value, End: i, nameEnd: end}) {
			return true
		}
		i = jsonscan.SkipSpace(obj, i)
		switch {
		case i == len(obj):
			return false
		case obj[i] == '}':
			return jsonscan.SkipSpace(obj, i+1) == len(obj)
		case obj[i] != ',':
			return false
		}
		i = jsonscan.SkipSpace(obj, i+1)
	}
	return false
}

// AppendWithout appends to dst the object obj without the members for
// which omit is true, each found by EachMember, commas mended; the rest is
// copied as it is. It reports whether it omitted any: when it did not,
// nor when obj is not a valid JSON object, it appends nothing, and obj
// serves as it is.
func AppendWithout(dst, obj []byte, omit func(Member) bool) ([]byte, bool) {
	start := len(dst)
	omitted, first := false, true
	last := 0 // obj[last:] is not copied yet
	ok := EachMember(obj, func(m Member) bool {
		if !omit(m) {
			if omitted {
				if !first {
					dst = append(dst, ',')
				}
				dst = append(dst, obj[m.Start:m.End]...)
			}
			first = false
			last = m.End
			return true
		}
		if !omitted {
			dst = append(dst, obj[:m.Start]...) // '{' and the members before, with their commas
			if !first {
				dst = dst[:len(dst)-1-trailingSpace(dst)] // the comma before this member
			}
			omitted = true
		}
		last = m.End
		return true
	})
	if !ok || !omitted {
		return dst[:start], false
	}
	// what follows the last member: spaces and the closing brace
	rest := obj[last:]
	if i := bytes.LastIndexByte(rest, '}'); i >= 0 {
		rest = rest[i:]
	}
	return append(dst, rest...), true
}

// trailingSpace counts the JSON whitespace between the last comma of dst
// and its end.
func trailingSpace(dst []byte) int {
	n := 0
	for n < len(dst) && dst[len(dst)-1-n] != ',' {
		n++
	}
	return n
}
