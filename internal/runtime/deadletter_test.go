package runtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/conveyor-etl/conveyor/plugin"
)

// A dead-letter entry keeps the record as JSON when it is JSON, as text
// when not, and only a valid-UTF-8 prefix when it exceeds the limit.
func TestDeadLetterEntry(t *testing.T) {
	b := &plugin.Batch{Origin: "raw-events", Partition: 2}
	huge := `{"blob":"` + strings.Repeat("é", 100) + `"}` // 2-byte runes: a cut can fall mid-rune
	cases := []struct {
		name, value string
		limit       int
		record      string // want "record" (JSON) ...
		text        string // ... or "record_text"
		truncated   bool
	}{
		{"json", `{"a":1}`, 0, `{"a":1}`, "", false},
		{"not json", `hello`, 0, "", "hello", false},
		{"under the limit", `{"a":1}`, 64, `{"a":1}`, "", false},
		{"over the limit", huge, 20, "", huge[:19], true}, // byte 20 is mid-rune: dropped
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := deadLetter("produce", b, failure{rec: plugin.Record{Value: []byte(tc.value), Offset: 41}, err: errors.New("too big")}, tc.limit)
			var e struct {
				Error, Stage, Source string
				Partition            int32
				Offset               int64
				Time                 string
				Record               json.RawMessage
				RecordText           string `json:"record_text"`
				Truncated            bool
				RecordBytes          int `json:"record_bytes"`
			}
			if err := json.Unmarshal(out, &e); err != nil {
				t.Fatalf("entry %s is not JSON: %v", out, err)
			}
			if e.Error != "too big" || e.Stage != "produce" || e.Source != "raw-events" || e.Partition != 2 || e.Offset != 41 || e.Time == "" {
				t.Errorf("entry %s lacks where the record came from", out)
			}
			if string(e.Record) != tc.record || e.RecordText != tc.text || e.Truncated != tc.truncated || e.RecordBytes != len(tc.value) {
				t.Errorf("entry %s; want record %q text %q truncated %v bytes %d", out, tc.record, tc.text, tc.truncated, len(tc.value))
			}
			if !utf8.ValidString(e.RecordText) {
				t.Errorf("record_text is not valid UTF-8")
			}
		})
	}
}
