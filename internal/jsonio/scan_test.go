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

	"github.com/conveyor-etl/conveyor/internal/record"
)

func TestScanValue(t *testing.T) {
	for _, tt := range []struct {
		in    string
		endOK bool
		end   int
		res   scanResult
	}{
		{`{"a":1,"b":[true,false,null],"c":{"d":"e\"\\\/\b\f\n\r\t\u00E9"}},`, false, 65, scanClean},
		{`{"a":"é€😀"}]`, false, 17, scanClean},
		{`[]x`, false, 2, scanClean}, // the end is found; what follows is the caller's
		{`"ab"x`, false, 4, scanClean},
		{`-1.5e+3,`, false, 7, scanClean},
		{`0]`, false, 1, scanClean},
		{`true}`, false, 4, scanClean},
		{`12`, true, 2, scanClean},
		{`null`, true, 4, scanClean},
		{"{ \"a\" : [ 1 ,\n2 ] }", false, 19, scanCompact},
		{"[\"\xff\"]", false, 5, scanCompact},
		{`12`, false, 2, scanShort},
		{`nul`, true, 3, scanShort},
		{`{"a":1`, false, 6, scanShort},
		{`{"a":"\u00`, false, 6, scanShort},
		{"[\"\xe2\x82", false, 2, scanShort},
		{`[1,]`, false, 3, scanOther},
		{`{"a" 1}`, false, 5, scanOther},
		{`[1 2]`, false, 3, scanOther},
		{`{"a":1]`, false, 6, scanOther},
		{`01,`, false, 1, scanOther},
		{`1x`, false, 1, scanOther},
		{`truex`, false, 4, scanOther},
		{`tru]`, false, 0, scanOther},
		{`"\x"`, false, 1, scanOther},
		{`"\u12g4"`, false, 1, scanOther},
		{"\"a\tb\"", false, 2, scanOther},
		{`{'a':1}`, false, 1, scanOther},
		{strings.Repeat("[", maxScanDepth) + strings.Repeat("]", maxScanDepth), false, maxScanDepth * 2, scanClean},
		{strings.Repeat("[", maxScanDepth+1) + strings.Repeat("]", maxScanDepth+1), false, maxScanDepth, scanOther},
	} {
		end, res := scanValue([]byte(tt.in), 0, tt.endOK)
		if end != tt.end || res != tt.res {
			t.Errorf("scanValue(%q, %v) = %d, %d; want %d, %d", tt.in, tt.endOK, end, res, tt.end, tt.res)
		}
		if res == scanClean || res == scanCompact {
			v := []byte(tt.in[:end])
			c, ok := record.AppendCompact(nil, v)
			if !ok || (res == scanClean) != bytes.Equal(c, v) {
				t.Errorf("scanValue(%q) = %d but AppendCompact gives %q, %v", tt.in, res, c, ok)
			}
		}
	}
}

// TestReadFastPath reads many records of every kind, already compact or not,
// across window boundaries and with small reads, and checks each against
// record.AppendCompact, then a malformed one for its line.
func TestReadFastPath(t *testing.T) {
	kinds := []string{
		`{"event_id":"evt-%06d","user_id":%d,"amount":153.25,"tags":["a","b"],"ok":true,"n":null}`,
		`{"s":"caf\u00e9 \"%d\" é😀","n":[%d,-0.5e-3,{}]}`,
		"{ \"i\" : %d ,\n  \"j\": [ %d ] }",
		"{\"bad\":\"\xff%d\",\"i\":%d}",
		`"%d-%d"`,
		`%d%d`,
		`[%d,[],[%d]]`,
	}
	var elems []string
	for i := range 3000 {
		k := kinds[i%len(kinds)]
		elems = append(elems, fmt.Sprintf(k, i, i*7)+strings.Repeat(" ", i%3))
	}
	var array, jsonl bytes.Buffer
	array.WriteString("[\n")
	lines := 1
	for i, e := range elems {
		if i > 0 {
			array.WriteString(",\n")
		}
		array.WriteString(e)
		lines += 1 + strings.Count(e, "\n")
		jsonl.WriteString(strings.ReplaceAll(e, "\n", " ") + "\r\n")
	}
	array.WriteString(",\n{\"i\":x}]")
	jsonl.WriteString("{\"i\":x}\n")
	for _, tt := range []struct {
		name string
		in   []byte
		line int
	}{{"records", array.Bytes(), lines + 1}, {"jsonl", jsonl.Bytes(), len(elems) + 1}} {
		for _, wrap := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r },
			iotest.OneByteReader,
			iotest.HalfReader,
		} {
			r := NewReader(wrap(bytes.NewReader(tt.in)), FormatAuto)
			for i, e := range elems {
				rec, err := r.Next()
				want, _ := record.AppendCompact(nil, []byte(e))
				if err != nil || !bytes.Equal(rec, want) || !json.Valid(rec) {
					t.Fatalf("%s: record %d = %q, %v; want %q", tt.name, i, rec, err, want)
				}
				// An append to a record must not write into the input not
				// yet read (checked by the records that follow).
				_ = append(rec, `,"x":"xxxxxxxxxxxxxxxxxxxx"}`...)
			}
			_, err := r.Next()
			var se *SyntaxError
			var re *RecordError
			switch {
			case errors.As(err, &se) && se.Line == tt.line && se.Index == len(elems):
			case errors.As(err, &re) && re.Line == tt.line && re.Index == len(elems):
			default:
				t.Errorf("%s: after the records: %v; want an error at line %d", tt.name, err, tt.line)
			}
		}
	}
}
