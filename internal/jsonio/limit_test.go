package jsonio

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns at most n bytes per Read, so that buffer boundaries
// fall everywhere inside a long record (between a backslash and the quote
// it escapes, too).
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// hugeRecord is a valid object of about n bytes whose string holds escaped
// quotes and backslashes, and brackets, so that only a scanner that follows
// strings across reads finds its end.
func hugeRecord(n int) string {
	const unit = `a\"b\\c]}{[,` // 12 bytes
	return `{"big":"` + strings.Repeat(unit, n/len(unit)) + `","end":[1,{"x":"}"}]}`
}

// A record over the limit, between good ones, is skipped and reported with
// its line and exact size, the good records around it come out, and the
// window stays under twice the limit however large the record is.
func TestReadMaxRecordBytes(t *testing.T) {
	const limit = 1 << 20
	huge := hugeRecord(5 << 20)
	hugeLines := strings.Replace(huge, `,"end"`, ",\n\n\"end\"", 1) // spans three lines in an array
	good := []string{`{"i":1}`, `{"i":2}`, `{"i":3}`, `{"i":4}`}
	for _, tc := range []struct {
		name   string
		in     string
		line   int   // where the huge record starts
		size   int64 // its size as the reader counts it
		line2  int   // where the second huge record starts
		index2 int
	}{
		{"jsonl", strings.Join([]string{good[0], huge, good[1], "", good[2], huge, good[3]}, "\n") + "\n",
			2, int64(len(huge)), 6, 4},
		{"jsonl, last line without a newline", strings.Join([]string{good[0], huge, good[1], good[2], good[3], huge}, "\n"),
			2, int64(len(huge)), 6, 5},
		{"records", "[\n" + strings.Join([]string{good[0], hugeLines, good[1], good[2], hugeLines, good[3]}, ",\n") + "\n]\n",
			3, int64(len(hugeLines)), 8, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{4093, 1 << 20} {
				r := NewReaderSize(chunkReader{strings.NewReader(tc.in), chunk}, FormatAuto, 64<<10)
				r.SetMaxRecordBytes(limit)
				recs, recErrs, err := readAll(t, r)
				if err != nil {
					t.Fatalf("chunk %d: fatal error %v", chunk, err)
				}
				if strings.Join(recs, " ") != strings.Join(good, " ") {
					t.Errorf("chunk %d: records %.200q, want %q", chunk, recs, good)
				}
				if len(recErrs) != 2 {
					t.Fatalf("chunk %d: record errors %v, want 2", chunk, recErrs)
				}
				for i, want := range []struct {
					line, index int
				}{{tc.line, 1}, {tc.line2, tc.index2}} {
					re := recErrs[i]
					var tl *TooLargeError
					if !errors.As(re, &tl) || re.Line != want.line || re.Index != want.index || tl.Size != tc.size || tl.Limit != limit {
						t.Errorf("chunk %d: error %d = %v (line %d, index %d); want line %d, index %d, size %d", chunk, i, re, re.Line, re.Index, want.line, want.index, tc.size)
					}
				}
				if cap(r.buf) >= 2*limit || cap(r.rec) >= 2*limit {
					t.Errorf("chunk %d: window grew to %d bytes, scratch to %d, with a limit of %d", chunk, cap(r.buf), cap(r.rec), limit)
				}
			}
		})
	}
}

// The limit is exact: a record of limit bytes is read, one more byte is
// too many; also when the record lies whole in a window larger than the
// limit.
func TestReadMaxRecordBytesBoundary(t *testing.T) {
	for _, limit := range []int{100, 200 << 10} {
		fits := `{"s":"` + strings.Repeat("x", limit-8) + `"}`
		over := `{"s":"` + strings.Repeat("y", limit-7) + `"}`
		for _, tc := range []struct{ name, in string }{
			{"jsonl", fits + "\n" + over + "\n" + fits + "\n"},
			{"records", "[" + fits + "," + over + "," + fits + "]"},
		} {
			for _, wrap := range []func(io.Reader) io.Reader{
				func(r io.Reader) io.Reader { return r },
				iotest.HalfReader,
			} {
				r := NewReaderSize(wrap(strings.NewReader(tc.in)), FormatAuto, 256<<10)
				r.SetMaxRecordBytes(limit)
				recs, recErrs, err := readAll(t, r)
				var tl *TooLargeError
				if err != nil || len(recs) != 2 || recs[0] != fits || recs[1] != fits ||
					len(recErrs) != 1 || !errors.As(recErrs[0], &tl) || tl.Size != int64(limit+1) || recErrs[0].Index != 1 {
					t.Errorf("limit %d, %s: %d records, errors %v, %v; want the two of %d bytes and one of %d skipped",
						limit, tc.name, len(recs), recErrs, err, limit, limit+1)
				}
			}
		}
	}
}

// An array whose huge element never ends is a syntax error, as without a
// limit; so is a read error while skipping.
func TestReadMaxRecordBytesTruncated(t *testing.T) {
	in := `[{"i":1},` + hugeRecord(3 << 20)[:2<<20]
	r := NewReader(strings.NewReader(in), FormatRecords)
	r.SetMaxRecordBytes(1 << 20)
	recs, _, err := readAll(t, r)
	var se *SyntaxError
	if len(recs) != 1 || !errors.As(err, &se) || se.Index != 1 {
		t.Errorf("got %q, %v; want one record, then a syntax error at element 1", recs, err)
	}
	boom := errors.New("boom")
	for _, f := range []Format{FormatJSONL, FormatRecords} {
		src := io.MultiReader(strings.NewReader("[\""+strings.Repeat("x", 300)), iotest.ErrReader(boom))
		r := NewReader(src, f)
		r.SetMaxRecordBytes(100)
		if _, err := r.Next(); err != boom {
			t.Errorf("%v: Next = %v, want the read error", f, err)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	for in, want := range map[string]Format{
		"": FormatJSONL, " \n\t": FormatJSONL, "\xef\xbb\xbf [1]": FormatRecords,
		"\n\n  [": FormatRecords, `{"a":1}`: FormatJSONL, strings.Repeat(" ", 200<<10) + "[": FormatRecords,
	} {
		if got, err := DetectFormat(strings.NewReader(in)); got != want || err != nil {
			t.Errorf("DetectFormat(%.20q) = %v, %v; want %v", in, got, err, want)
		}
	}
	boom := errors.New("boom")
	if _, err := DetectFormat(iotest.ErrReader(boom)); err != boom {
		t.Errorf("DetectFormat of a failing reader: %v", err)
	}
}
