package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func hdrs(kv ...string) []Header {
	var hs []Header
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, Header{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return hs
}

// The one JSON shape of headers: a repeated name is an array in order, a
// value that is not UTF-8 is {"base64": ...}, a null value is null; and
// EachHeader reads back exactly the headers written, grouped by name.
func TestAppendHeadersShape(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	hs := append(hdrs("traceparent", tp, "tag", "a", "x", `q"\`), Header{Key: []byte("bin"), Value: []byte{0xff, 0x00, 'a'}},
		Header{Key: []byte("tag"), Value: []byte("b")}, Header{Key: []byte("none")}, Header{Key: []byte("empty"), Value: []byte{}},
		Header{Key: []byte("tag"), Value: []byte{0xfe}})
	got := string(AppendHeaders(nil, hs))
	want := `{"traceparent":"` + tp + `","tag":["a","b",{"base64":"/g=="}],"x":"q\"\\","bin":{"base64":"/wBh"},"none":null,"empty":""}`
	if got != want {
		t.Fatalf("AppendHeaders\n got %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatalf("not JSON: %s", got)
	}
	var back []Header
	if err := EachHeader([]byte(got), func(k, v []byte) { back = append(back, Header{k, v}) }); err != nil {
		t.Fatal(err)
	}
	// grouped by name, in the order of each name's first header
	wantBack := append(hdrs("traceparent", tp, "tag", "a", "tag", "b"), Header{Key: []byte("tag"), Value: []byte{0xfe}},
		Header{Key: []byte("x"), Value: []byte(`q"\`)}, Header{Key: []byte("bin"), Value: []byte{0xff, 0x00, 'a'}},
		Header{Key: []byte("none")}, Header{Key: []byte("empty"), Value: []byte{}})
	if fmt.Sprintf("%q", back) != fmt.Sprintf("%q", wantBack) {
		t.Fatalf("EachHeader\n got %q\nwant %q", back, wantBack)
	}
	for i := range back { // null and empty stay apart
		if (back[i].Value == nil) != (wantBack[i].Value == nil) {
			t.Errorf("header %d (%s): nil %v, want %v", i, back[i].Key, back[i].Value == nil, wantBack[i].Value == nil)
		}
	}
	if got := string(AppendHeaders(nil, nil)); got != "{}" {
		t.Errorf("no headers: %s", got)
	}
}

// What a person or an operator writes is read too; what cannot be a header
// value is refused with the header's name, and nothing is emitted then.
func TestEachHeaderInput(t *testing.T) {
	var got []string
	err := EachHeader([]byte(`{"n":12.50,"b":true,"s":"x","a":[1,"y",null]}`), func(k, v []byte) {
		got = append(got, fmt.Sprintf("%s=%q/%v", k, v, v == nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `n="12.50"/false b="true"/false s="x"/false a="1"/false a="y"/false a=""/true`; strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	for in, msg := range map[string]string{
		`{"ok":"1","bad":{"x":1}}`:           `header "bad": want a string`,
		`{"bad":[["nested"]]}`:               `header "bad": want a string`,
		`{"bad":{"base64":"%%%"}}`:           `header "bad": "%%%" is not standard base64`,
		`{"bad":{"base64":"AA==","more":1}}`: `header "bad": want a string`,
		`["a"]`:                              `want an object of header names to values, got ["a"]`,
		`"x"`:                                `want an object`,
	} {
		called := false
		err := EachHeader([]byte(in), func(_, _ []byte) { called = true })
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("EachHeader(%s) = %v, want %q", in, err, msg)
		}
		if called {
			t.Errorf("EachHeader(%s) emitted headers before failing", in)
		}
	}
}

// Enrich adds _kafka_headers last, only when the message has headers: a
// record without headers is unchanged, and a payload's own _kafka_headers
// is renamed like the other metadata names.
func TestEnrichHeaders(t *testing.T) {
	m := testMeta
	if got := string(Enrich(nil, []byte(`{"a":1}`), m)); got != `{"a":1,`+metaJSON {
		t.Fatalf("without headers: %s", got)
	}
	m.Headers = AppendHeaders(nil, hdrs("traceparent", "t1", "k", "v"))
	got := Enrich(nil, []byte(`{"a":1,"_kafka_headers":{"mine":"1"}}`), m)
	want := `{"a":1,"_payload__kafka_headers":{"mine":"1"},` + strings.TrimSuffix(metaJSON, "}") + `,"_kafka_headers":{"traceparent":"t1","k":"v"}}`
	if string(got) != want {
		t.Fatalf("Enrich\n got %s\nwant %s", got, want)
	}
	checkEnrich(t, []byte(`{"a":1}`), m)
	checkEnrich(t, []byte(`not json`), m)
	m.ValueNull = true
	checkEnrich(t, nil, m)
	if !bytes.Contains(Enrich(nil, nil, m), []byte(`"_kafka_headers":{"traceparent"`)) {
		t.Error("a tombstone loses its headers")
	}
}

// Generate makes a random Meta for testing/quick, with headers (as
// AppendHeaders writes them: Headers must be that) on half of them.
func (Meta) Generate(r *rand.Rand, size int) reflect.Value {
	randBytes := func() []byte {
		b := make([]byte, r.Intn(8))
		r.Read(b)
		if r.Intn(2) == 0 {
			for i := range b {
				b[i] = 'a' + b[i]%26
			}
		}
		return b
	}
	m := Meta{Key: randBytes(), KeyNull: r.Intn(4) == 0, ValueNull: r.Intn(8) == 0, Partition: r.Int31(), Offset: r.Int63(), Timestamp: r.Int63() - r.Int63()}
	if r.Intn(2) == 0 {
		var hs []Header
		for range 1 + r.Intn(5) {
			h := Header{Key: []byte{'a' + byte(r.Intn(3))}, Value: randBytes()}
			if r.Intn(6) == 0 {
				h.Value = nil
			}
			hs = append(hs, h)
		}
		m.Headers = AppendHeaders(nil, hs)
	}
	return reflect.ValueOf(m)
}

// FuzzHeaders: any headers written by AppendHeaders are valid JSON and read
// back by EachHeader as the same headers, grouped by name in the order of
// each name's first header.
func FuzzHeaders(f *testing.F) {
	f.Add([]byte("traceparent"), []byte("00-ab-01"), []byte("tag"), []byte("\xff\x00"), false)
	f.Add([]byte("a"), []byte(""), []byte("a"), []byte("\"\\\u2028"), true)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte, null bool) {
		if !utf8.Valid(k1) || !utf8.Valid(k2) {
			return // a name that is not UTF-8 is written with U+FFFD, not kept
		}
		if null {
			v2 = nil
		}
		hs := []Header{{k1, v1}, {k2, v2}, {k1, v2}}
		out := AppendHeaders(nil, hs)
		if !json.Valid(out) {
			t.Fatalf("AppendHeaders(%q) = %s: not JSON", hs, out)
		}
		var back []Header
		if err := EachHeader(out, func(k, v []byte) { back = append(back, Header{k, v}) }); err != nil {
			t.Fatalf("EachHeader(%s): %v", out, err)
		}
		want := []Header{hs[0], hs[2], hs[1]}
		if bytes.Equal(k1, k2) {
			want = []Header{hs[0], hs[1], hs[2]}
		}
		if len(back) != len(want) {
			t.Fatalf("%s read back as %q, want %q", out, back, want)
		}
		for i := range want {
			if !bytes.Equal(back[i].Key, want[i].Key) || !bytes.Equal(back[i].Value, want[i].Value) || (back[i].Value == nil) != (want[i].Value == nil) {
				t.Fatalf("%s read back as %q, want %q", out, back, want)
			}
		}
	})
}
