package record

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendWithout(t *testing.T) {
	meta := func(name string, _ []byte) bool { return strings.HasPrefix(name, "_kafka_") }
	tests := []struct{ in, want string }{
		{`{"a":1,"_kafka_key":"k","b":[1,{"c":"}"}],"_kafka_offset":3}`, `{"a":1,"b":[1,{"c":"}"}]}`},
		{`{"_kafka_key":"k","a":1}`, `{"a":1}`},
		{`{"_kafka_key":"k"}`, `{}`},
		{` { "a" : 1 , "_kafka_key" : null , "b" : "x\"y" } `, `{"a" : 1,"b" : "x\"y"}`}, // members copied as written
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
	// omit sees each member's value as written
	var seen []string
	AppendWithout(nil, []byte(`{"a":1, "b" : {"x":[1,2]} ,"c":"s"}`), func(name string, v []byte) bool {
		seen = append(seen, name+"="+string(v))
		return false
	})
	if want := `a=1 b={"x":[1,2]} c="s"`; strings.Join(seen, " ") != want {
		t.Errorf("omit saw %s, want %s", strings.Join(seen, " "), want)
	}
}
