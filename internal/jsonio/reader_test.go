package jsonio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every record, collecting RecordErrors, until io.EOF or a
// fatal error.
func readAll(t *testing.T, r *Reader) (recs []string, recErrs []*RecordError, fatal error) {
	t.Helper()
	for {
		rec, err := r.Next()
		var re *RecordError
		switch {
		case err == io.EOF:
			return recs, recErrs, nil
		case errors.As(err, &re):
			recErrs = append(recErrs, re)
		case err != nil:
			return recs, recErrs, err
		default:
			recs = append(recs, string(rec))
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"": FormatAuto, "auto": FormatAuto, "records": FormatRecords, "array": FormatRecords,
		"jsonl": FormatJSONL, "ndjson": FormatJSONL, "JSONL": FormatJSONL,
	} {
		if got, err := ParseFormat(in); got != want || err != nil {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat(csv) succeeded")
	}
	for _, f := range []Format{FormatAuto, FormatRecords, FormatJSONL} {
		if got, err := ParseFormat(f.String()); got != f || err != nil {
			t.Errorf("ParseFormat(%v.String()) = %v, %v", f, got, err)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	in := "{\"a\":1}\n\n  {\"b\": [1, 2]}  \r\n\t\n\"s\"\n42\r\nnull\n[1]\n{\"last\":true}"
	r := NewReader(strings.NewReader(in), FormatJSONL)
	recs, recErrs, err := readAll(t, r)
	want := []string{`{"a":1}`, `{"b":[1,2]}`, `"s"`, `42`, `null`, `[1]`, `{"last":true}`}
	if err != nil || len(recErrs) > 0 || strings.Join(recs, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, %v, %v; want %q", recs, recErrs, err, want)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next after EOF = %v", err)
	}
}

func TestReadJSONLBadLine(t *testing.T) {
	in := "{\"a\":1}\n\n{\"a\":2,}\n{\"a\":3}\nnot json\n{\"a\":4} {\"a\":5}\n{\"a\":6}\n"
	r := NewReader(strings.NewReader(in), FormatJSONL)
	recs, recErrs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"a":1}`, `{"a":3}`, `{"a":6}`}; strings.Join(recs, "|") != strings.Join(want, "|") {
		t.Errorf("records %q, want %q", recs, want)
	}
	wantErrs := []struct{ line, index int }{{3, 1}, {5, 3}, {6, 4}}
	if len(recErrs) != len(wantErrs) {
		t.Fatalf("errors %v, want %d", recErrs, len(wantErrs))
	}
	for i, w := range wantErrs {
		e := recErrs[i]
		if e.Line != w.line || e.Index != w.index {
			t.Errorf("error %d at line %d, index %d; want line %d, index %d", i, e.Line, e.Index, w.line, w.index)
		}
		if prefix := fmt.Sprintf("line %d: ", w.line); !strings.HasPrefix(e.Error(), prefix) {
			t.Errorf("error %q does not start with %q", e, prefix)
		}
		var se *json.SyntaxError
		if !errors.As(e, &se) {
			t.Errorf("error %v does not wrap a *json.SyntaxError", e)
		}
	}
}

func TestReadRecords(t *testing.T) {
	in := " \n[ {\"a\": [1, {\"b\": \"]}\\\"[{\"}]},\n\"x,y\" ,-1.5e3,true,null,[],{}, \"\\\\\"\n,[[\"]\"]] ]\n\n"
	want := []string{`{"a":[1,{"b":"]}\"[{"}]}`, `"x,y"`, `-1.5e3`, `true`, `null`, `[]`, `{}`, `"\\"`, `[["]"]]`}
	for _, f := range []Format{FormatRecords, FormatAuto} {
		r := NewReader(strings.NewReader(in), f)
		recs, recErrs, err := readAll(t, r)
		if err != nil || len(recErrs) > 0 || strings.Join(recs, "|") != strings.Join(want, "|") {
			t.Errorf("%v: got %q, %v, %v; want %q", f, recs, recErrs, err, want)
		}
		if r.Format() != FormatRecords {
			t.Errorf("%v: detected %v", f, r.Format())
		}
	}
}

func TestReadCompacts(t *testing.T) {
	for _, in := range []string{
		"{ \"a\" : \"\\u00e9\xff\" ,\"b\":[ 1 ]}\n",
		"[\n  {\n    \"a\": \"\\u00e9\xff\",\n    \"b\": [\n      1\n    ]\n  }\n]\n",
	} {
		recs, _, err := readAll(t, NewReader(strings.NewReader(in), FormatAuto))
		if want := `{"a":"\u00e9\ufffd","b":[1]}`; err != nil || len(recs) != 1 || recs[0] != want {
			t.Errorf("read %q: %q, %v; want %s", in, recs, err, want)
		}
	}
}

func TestReadEmpty(t *testing.T) {
	tests := []struct {
		in     string
		format Format
		fatal  bool
	}{
		{"", FormatAuto, false},
		{" \n\n", FormatAuto, false},
		{"", FormatJSONL, false},
		{"[]", FormatAuto, false},
		{" [ \n ] \n", FormatRecords, false},
		{"\ufeff[]", FormatAuto, false},
		{"", FormatRecords, true},
		{"  ", FormatRecords, true},
	}
	for _, tt := range tests {
		recs, recErrs, err := readAll(t, NewReader(strings.NewReader(tt.in), tt.format))
		if len(recs) != 0 || len(recErrs) != 0 || (err != nil) != tt.fatal {
			t.Errorf("read %q as %v: %q, %v, %v", tt.in, tt.format, recs, recErrs, err)
		}
	}
}

func TestAutoDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{"[1,2]", FormatRecords},
		{"\n\t [1,2]", FormatRecords},
		{"\ufeff[1]", FormatRecords},
		{"{\"a\":1}\n", FormatJSONL},
		{"\n\n{\"a\":1}\n", FormatJSONL},
		{"1\n2\n", FormatJSONL},
		{"", FormatJSONL},
		{strings.Repeat(" ", 200_000) + "[1]", FormatRecords}, // whitespace beyond the first buffer
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in), FormatAuto)
		if _, err := r.Next(); err != nil && err != io.EOF {
			t.Errorf("Next(%.20q): %v", tt.in, err)
		}
		if r.Format() != tt.want {
			t.Errorf("detected %v for %.20q, want %v", r.Format(), tt.in, tt.want)
		}
	}
	// A forced format is not second-guessed.
	recs, _, err := readAll(t, NewReader(strings.NewReader("[1,2]\n[3]\n"), FormatJSONL))
	if err != nil || len(recs) != 2 {
		t.Errorf("forced JSONL read %q, %v", recs, err)
	}
}

func TestReadRecordsFatal(t *testing.T) {
	tests := []struct {
		in          string
		line, index int
		valid       int // records returned before the error
	}{
		{`{"a":1}`, 1, 0, 0},
		{`[1,2`, 1, 1, 1}, // a number is only complete at its delimiter
		{"[1,\n2,\n{\"a\":}\n,3]", 3, 2, 2},
		{"[1,\n\n2 3]", 3, 2, 2},
		{`[1,]`, 1, 1, 1},
		{`[,1]`, 1, 0, 0},
		{`[1] [2]`, 1, 1, 1},
		{`[1]x`, 1, 1, 1},
		{`[01]`, 1, 0, 0},
		{`["abc]`, 1, 0, 0},
		{`[{"a":1]`, 1, 0, 0},
		{`[tru]`, 1, 0, 0},
		{"[\n{\"a\":\n\"b\nc\"}]", 2, 0, 0},
		{"[", 1, 0, 0},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in), FormatRecords)
		recs, _, err := readAll(t, r)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("read %q: error %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Line != tt.line || se.Index != tt.index || len(recs) != tt.valid {
			t.Errorf("read %q: %d records, then %v (line %d, index %d); want %d records, line %d, index %d",
				tt.in, len(recs), err, se.Line, se.Index, tt.valid, tt.line, tt.index)
		}
		if prefix := fmt.Sprintf("line %d: ", tt.line); !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("error %q does not start with %q", err, prefix)
		}
		for range 2 {
			if _, again := r.Next(); again != err {
				t.Errorf("read %q: Next after the fatal error = %v, want it again", tt.in, again)
			}
		}
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, f := range []Format{FormatJSONL, FormatRecords} {
		in := "1\n2\n3" // the last line is not known to be complete
		if f == FormatRecords {
			in = "[1,\n2,\n3"
		}
		r := NewReader(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)), f)
		recs, _, err := readAll(t, r)
		if err != boom || len(recs) != 2 {
			t.Errorf("%v: read %q then %v; want 2 records then boom", f, recs, err)
		}
		if _, err := r.Next(); err != boom {
			t.Errorf("%v: Next after the read error = %v", f, err)
		}
	}
}

// Records longer than the buffer, and input that arrives a byte at a time,
// exercise every refill path.
func TestReadSmallReadsAndLongRecords(t *testing.T) {
	long := `{"s":"` + strings.Repeat(`x\"]}`, 100_000) + `","n":[` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `]}`
	recs := []string{`1`, long, `"a,b"`, `{"a":[1,2]}`, long, `[]`}
	jsonl := strings.Join(recs, "\n") + "\n"
	array := "[\n" + strings.Join(recs, ",\n") + "\n]"
	for _, tt := range []struct {
		name, in string
	}{{"jsonl", jsonl}, {"records", array}} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.DataErrReader,
			iotest.HalfReader,
		} {
			got, recErrs, err := readAll(t, NewReader(wrap(strings.NewReader(tt.in)), FormatAuto))
			if err != nil || len(recErrs) > 0 || strings.Join(got, "|") != strings.Join(recs, "|") {
				t.Errorf("%s: got %d records, %v, %v", tt.name, len(got), recErrs, err)
			}
		}
	}
}

func TestReadRecordsLineNumbers(t *testing.T) {
	// Pretty-printed elements span lines; the error names the element's line.
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i := range 5 {
		fmt.Fprintf(&buf, "  {\n    \"i\": %d\n  },\n", i)
	}
	buf.WriteString("  {\n    \"i\": x\n  }\n]\n")
	r := NewReader(&buf, FormatAuto)
	recs, _, err := readAll(t, r)
	var se *SyntaxError
	if len(recs) != 5 || !errors.As(err, &se) || se.Line != 17 || se.Index != 5 {
		t.Errorf("got %d records, then %v; want 5, then line 17 element 5", len(recs), err)
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReadNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}, FormatJSONL).Next(); err != io.ErrNoProgress {
		t.Errorf("Next = %v, want io.ErrNoProgress", err)
	}
}

// genReader produces n records on the fly, so a huge input never exists in
// memory.
type genReader struct {
	n, i   int
	format Format
	buf    []byte
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		switch {
		case g.i > g.n:
			return 0, io.EOF
		case g.i == g.n:
			if g.format == FormatRecords {
				g.buf = append(g.buf, "\n]\n"...)
			}
		default:
			if g.format == FormatRecords {
				if g.i == 0 {
					g.buf = append(g.buf, "[\n"...)
				} else {
					g.buf = append(g.buf, ",\n"...)
				}
			}
			g.buf = fmt.Appendf(g.buf, `{"id":%d,"s":"x\"y","a":[1,{"b":null}]}`, g.i)
			if g.format == FormatJSONL {
				g.buf = append(g.buf, '\n')
			}
		}
		g.i++
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func TestReadMillionStreaming(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	for _, f := range []Format{FormatJSONL, FormatRecords} {
		r := NewReader(&genReader{n: n, format: f}, FormatAuto)
		count := 0
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if count%100_000 == 0 {
				if want := fmt.Sprintf(`{"id":%d,"s":"x\"y","a":[1,{"b":null}]}`, count); string(rec) != want {
					t.Fatalf("record %d = %s, want %s", count, rec, want)
				}
			}
			count++
		}
		if count != n || r.Format() != f {
			t.Errorf("%v: read %d records as %v, want %d", f, count, r.Format(), n)
		}
		if len(r.buf) > initialBufSize {
			t.Errorf("%v: buffer grew to %d bytes", f, len(r.buf))
		}
	}
}
