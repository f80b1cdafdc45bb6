package jsonio

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzReadRecords checks the array reader against encoding/json: a valid
// array yields exactly its elements, compacted; anything else ends in a
// *SyntaxError.
func FuzzReadRecords(f *testing.F) {
	for _, s := range []string{
		`[]`, `[1, "a\"]", {"b": [1, {}]}, null]`, "[\"\\\\\", \"\\\\\\\"\"]", `[1,]`, `[1 2]`, `[{"a":1]`, `["x`, `[1] 2`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, oneByte bool) {
		if bytes.HasPrefix(in, utf8BOM) {
			return // skipped by the Reader, rejected by encoding/json
		}
		var src io.Reader = bytes.NewReader(in)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		r := NewReader(src, FormatRecords)
		var got []string
		var err error
		for {
			var rec []byte
			if rec, err = r.Next(); err != nil {
				break
			}
			got = append(got, string(rec))
		}
		var want []json.RawMessage
		if json.Unmarshal(in, &want) != nil || want == nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("read %q: %q, then %v; want a *SyntaxError", in, got, err)
			}
			return
		}
		if err != io.EOF || len(got) != len(want) {
			t.Fatalf("read %q: %q, then %v; want %q", in, got, err, want)
		}
		for i := range want {
			if utf8.Valid(want[i]) {
				var c bytes.Buffer
				if json.Compact(&c, want[i]) != nil || got[i] != c.String() {
					t.Fatalf("read %q: element %d = %q, want %q", in, i, got[i], c.Bytes())
				}
				continue
			}
			// Invalid UTF-8 is repaired; both decode the same.
			var g, w any
			if json.Unmarshal([]byte(got[i]), &g) != nil || json.Unmarshal(want[i], &w) != nil || !reflect.DeepEqual(g, w) {
				t.Fatalf("read %q: element %d = %q, want %q decoded", in, i, got[i], want[i])
			}
		}
	})
}

// FuzzReadJSONL checks the line reader against encoding/json: every
// non-blank line yields its value, compacted, or a *RecordError naming it.
func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{"1\n\n{\"a\": [1]}\r\nx\n", "\n", "[1,\n2]\n", "\"a\\\"b\"\n{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if bytes.HasPrefix(in, utf8BOM) {
			return
		}
		r := NewReader(bytes.NewReader(in), FormatJSONL)
		index := 0
		for n, line := range bytes.Split(in, []byte("\n")) {
			if len(trimSpace(line)) == 0 {
				continue
			}
			rec, err := r.Next()
			var re *RecordError
			switch {
			case json.Valid(line):
				if err != nil || !json.Valid(rec) || bytes.ContainsAny(rec, "\n") {
					t.Fatalf("line %d %q: %q, %v", n+1, line, rec, err)
				}
			case !errors.As(err, &re) || re.Line != n+1 || re.Index != index:
				t.Fatalf("line %d %q: %q, %v; want a *RecordError for line %d, record %d", n+1, line, rec, err, n+1, index)
			}
			index++
		}
		if rec, err := r.Next(); err != io.EOF {
			t.Fatalf("after the last line: %q, %v", rec, err)
		}
	})
}
