package record

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendWithout(t *testing.T) {
	meta := func(m Member) bool { return m.HasPrefix("_kafka_") }
	tests := []struct{ in, want string }{
		{`{"a":1,"_kafka_key":"k","b":[1,{"c":"}"}],"_kafka_offset":3}`, `{"a":1,"b":[1,{"c":"}"}]}`},
		{`{"_kafka_key":"k","a":1}`, `{"a":1}`},
		{`{"_kafka_key":"k"}`, `{}`},
		{` { "a" : 1 , "_kafka_key" : null , "b" : "x\"y" } `, ` { "a" : 1 ,"b" : "x\"y"} `}, // whitespace outside members kept,
		{`{"\u005fkafka_key":1,"a":{"_kafka_key":2}}`, `{"a":{"_kafka_key":2}}`},
		{`{"_kafka_headers":{"t":["a","b"]},"_kafka_timestamp":-1.5e3,"x":true}`, `{"x":true}`},
	}
	for _, tt := range tests {
		got, ok := AppendWithout([]byte("pre"), []byte(tt.in), meta)
		if !ok || string(got) != "pre"+tt.want {
			t.Errorf("AppendWithout(%s) = %s, %v; want %s", tt.in, got, ok, tt.want)
		}
		if !json.Valid(got[3:]) {
			t.Errorf("AppendWithout(%s) = %s: not JSON", tt.in, got[3:])
		}
	}
	// nothing to omit, or not an object: nothing appended
	for _, in := range []string{`{"a":1,"b":{"_kafka_key":1}}`, `{}`, `[1]`, `"x"`, `{"a":1`, `{"_kafka_key":1,}`, `{"_kafka_key" 1}`, ``} {
		got, ok := AppendWithout([]byte("pre"), []byte(in), meta)
		if ok || string(got) != "pre" {
			t.Errorf("AppendWithout(%s) = %s, %v; want nothing appended", in, got, ok)
		}
	}
}

func TestEachMember(t *testing.T) {
	in := `{"a":1, "b\u0022" : {"x":[1,2]} ,"c":"s","d":-2.5e1,"e":null}`
	var got []string
	if !EachMember([]byte(in), func(m Member) bool {
		got = append(got, string(m.Name())+"="+string(m.Raw()))
		return true
	}) {
		t.Fatal("not an object")
	}
	if want := `a=1 b"={"x":[1,2]} c="s" d=-2.5e1 e=null`; strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	n := 0
	EachMember([]byte(in), func(m Member) bool { n++; return !m.NameIs(`b"`) })
	if n != 2 {
		t.Errorf("stopped after %d members, want 2", n)
	}
}
