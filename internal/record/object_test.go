package record_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/internal/record"
)

func TestMembers(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:    ``,
		` { } `: ``,
		`{"a":1,"b":"x\"y","c":{"d":[1,"]}"]},"e":null,"f":true,"g":-1.5e3}`: `a=1|b="x\"y"|c={"d":[1,"]}"]}|e=null|f=true|g=-1.5e3|`,
		`{ "a" : [ ] , "\u0062" : "é" }`:                                     `a=[ ]|b="é"|`,
	} {
		var b strings.Builder
		if !record.Members([]byte(in), func(name string, key, value []byte) bool {
			b.WriteString(name + "=" + string(value) + "|")
			return true
		}) {
			t.Errorf("%s: not an object", in)
		}
		if b.String() != want {
			t.Errorf("%s: %s, want %s", in, b.String(), want)
		}
	}
	for _, in := range []string{``, `[1]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":[1}`, `{"a":tru}`, `{a:1}`} {
		if record.Members([]byte(in), func(string, []byte, []byte) bool { return true }) {
			t.Errorf("%s: taken as an object", in)
		}
	}
}

// FuzzMembers: Members never panics, and on valid JSON objects gives the
// members encoding/json decodes, in order.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":[1,2,{"d":"}"}]}}`, `{"\u00e9":"x"}`, `{}`, `[]`, `{"a":"\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var names []string
		ok := record.Members(in, func(name string, key, value []byte) bool {
			names = append(names, strings.Clone(name))
			return true
		})
		var m map[string]json.RawMessage
		if !utf8.Valid(in) || json.Unmarshal(in, &m) != nil {
			return // records are valid UTF-8: sources repair them (Enrich, AppendCompact)
		}
		if !ok {
			t.Fatalf("%q: a valid object refused", in)
		}
		for _, n := range names {
			if _, found := m[n]; !found {
				t.Fatalf("%q: member %q not in the object", in, n)
			}
		}
	})
}
