package record_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// members lists what fn is called with, name=value|..., and whether the
// walk took obj as an object.
func members(walk func([]byte, func(string, []byte) bool) bool, obj string) (string, bool) {
	var b strings.Builder
	ok := walk([]byte(obj), func(name string, value []byte) bool {
		b.WriteString(name + "=" + string(value) + "|")
		return true
	})
	return b.String(), ok
}

func checked(obj []byte, fn func(string, []byte) bool) bool {
	return record.Members(obj, func(name string, _, value []byte) bool { return fn(name, value) })
}

// PeekMembers reads valid objects as Members does, and leaves a name with
// an escape or bytes without an object's shape to it.
func TestPeekMembers(t *testing.T) {
	for _, in := range []string{
		`{}`, ` { } `, `{"a":1,"b":"x\"y","c":{"d":[1,"]}"]},"e":null,"f":true,"g":-1.5e3}`,
		`{ "a" : [ ] , "b" : "é\\" , "c":"\u00e9\/" }`, `{"a":{"b":{"c":"}}}"}},"d":[[],[{}]]}`,
		`{"_kafka_key":"k","_kafka_timestamp":1764072000123}`,
	} {
		got, ok := members(record.PeekMembers, in)
		want, _ := members(checked, in)
		if !ok || got != want {
			t.Errorf("%s: %s (%v), Members: %s", in, got, ok, want)
		}
	}
	for _, in := range []string{``, `[1]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":[1}`, `{a:1}`, `{"\u0061":1}`, `{"a\"b":1}`} {
		if _, ok := members(record.PeekMembers, in); ok {
			t.Errorf("%s: taken as an object", in)
		}
	}
	// it stops when fn does
	n := 0
	record.PeekMembers([]byte(`{"a":1,"b":2,"c":3}`), func(string, []byte) bool { n++; return n < 2 })
	if n != 2 {
		t.Errorf("fn called %d times after it returned false, want 2", n)
	}
}

// FuzzPeekMembers: PeekMembers never panics, and on a valid object that
// Members reads, it reads the same members (or refuses a name with an
// escape).
func FuzzPeekMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":[1,2,{"d":"}"}]}}`, `{"\u00e9":"x"}`, `{}`, `[]`, `{"a":"\\"}`, `{"a" : 1 , "b":[ "]" ]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := members(record.PeekMembers, string(in))
		want, _ := members(checked, string(in))
		var m map[string]json.RawMessage
		if !utf8.Valid(in) || json.Unmarshal(in, &m) != nil {
			return // records are valid UTF-8: sources repair them
		}
		escaped := false
		record.Members(in, func(_ string, key, _ []byte) bool {
			escaped = escaped || bytes.IndexByte(key, '\\') >= 0
			return true
		})
		if ok && got != want || !ok && !escaped {
			t.Fatalf("%q: %s (%v), Members: %s", in, got, ok, want)
		}
	})
}
