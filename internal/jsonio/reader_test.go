package jsonio

import (
	"bytes"
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
	wantErrs := []string{
		`line 3, column 8: record 2: expected a string key after ',' in an object, found '}'`,
		`line 5, column 1: record 4: expected null, found "not"`,
		`line 6, column 9: record 5: expected the end of the input after the value, found '{'`,
	}
	if len(recErrs) != len(wantErrs) {
		t.Fatalf("errors %v, want %d", recErrs, len(wantErrs))
	}
	for i, want := range wantErrs {
		if e := recErrs[i]; e.Error() != want {
			t.Errorf("error %d:\n%s\nwant\n%s", i, e, want)
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

// TestReadRecordsFatal: a broken array stops the read with an error that
// names the line and column (from 1) of the offending byte, the element
// (from 1) and what was expected there.
func TestReadRecordsFatal(t *testing.T) {
	tests := []struct {
		in    string
		want  string
		valid int // records returned before the error
	}{
		{`{"a":1}`, `line 1, column 1: element 1: expected '[' to start the array of records, found '{'`, 0},
		{`[1,2`, `line 1, column 5: element 2: expected ',' or ']' after an array element, found the end of the input`, 1},
		{"[1,\n2,\n{\"a\":}\n,3]", `line 3, column 6: element 3: expected a value after ':', found '}'`, 2},
		{"[1,\n\n2 3]", `line 3, column 3: element 3: expected ',' or ']' after an array element, found '3'`, 2},
		{`[1,]`, `line 1, column 4: element 2: expected a record after ',' in the array, found ']'`, 1},
		{`[,1]`, `line 1, column 2: element 1: expected a record in the array, found ','`, 0},
		{`[1] [2]`, `line 1, column 5: element 2: expected the end of the input after the array's closing ']', found '['`, 1},
		{`[1]x`, `line 1, column 4: element 2: expected the end of the input after the array's closing ']', found 'x'`, 1},
		{`[01]`, `line 1, column 3: element 1: expected the end of the input after the value, found '1'`, 0},
		{`["abc]`, `line 1, column 7: element 1: expected '"' to end the string that starts at column 1, found the end of the input`, 0},
		{`[{"a":1]`, `line 1, column 8: element 1: expected ',' or '}' after an object value, found ']'`, 0},
		{`[tru]`, `line 1, column 2: element 1: expected true, found "tru"`, 0},
		{"[\n{\"a\":\n\"b\nc\"}]", `line 3, column 3: element 1: expected '"' to end the string or a character, found control character U+000A (write it escaped, e.g. \n or \u0000)`, 0},
		{"[", `line 1, column 2: element 1: expected a record or ']' in the array, found the end of the input`, 0},
		{"  [1, 2,\t{\"a\": 1 2}]", `line 1, column 18: element 3: expected ',' or '}' after an object value, found '2'`, 2},
		{"\xef\xbb\xbf[x]", `line 1, column 2: element 1: expected a value (an object, array, string, number, true, false or null), found 'x'`, 0},
	}
	for _, tt := range tests {
		r := NewReader(strings.NewReader(tt.in), FormatRecords)
		recs, _, err := readAll(t, r)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("read %q: error %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if err.Error() != tt.want || len(recs) != tt.valid {
			t.Errorf("read %q: %d records, then\n%v\nwant %d records, then\n%s", tt.in, len(recs), err, tt.valid, tt.want)
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
	// Pretty-printed elements span lines; the error names the offending byte's line.
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i := range 5 {
		fmt.Fprintf(&buf, "  {\n    \"i\": %d\n  },\n", i)
	}
	buf.WriteString("  {\n    \"i\": x\n  }\n]\n")
	r := NewReader(&buf, FormatAuto)
	recs, _, err := readAll(t, r)
	var se *SyntaxError
	want := `line 18, column 10: element 6: expected a value after ':' (an object, array, string, number, true, false or null), found 'x'`
	if len(recs) != 5 || !errors.As(err, &se) || err.Error() != want {
		t.Errorf("got %d records, then %v; want 5, then %s", len(recs), err, want)
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

// TestReadRecordsColumnAcrossRefills: the column stays right when the
// line's start left the window many refills ago.
func TestReadRecordsColumnAcrossRefills(t *testing.T) {
	in := "[\n" + strings.Repeat(`{"a":1}, `, 20_000) + `{"a" 2}]`
	for _, wrap := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.HalfReader} {
		recs, _, err := readAll(t, NewReader(wrap(strings.NewReader(in)), FormatAuto))
		want := fmt.Sprintf("line 2, column %d: element 20001: expected ':' after an object key, found '2'", 9*20_000+6)
		if len(recs) != 20_000 || err == nil || err.Error() != want {
			t.Errorf("got %d records, then %v; want 20000, then %s", len(recs), err, want)
		}
	}
}
