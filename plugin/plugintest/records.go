package plugintest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/plugin"
)

// wait bounds every wait of the suite for something a function must do
// (emit, settle, return): long enough for a real broker or database,
// short enough that a hang fails the check rather than the test binary.
const wait = 20 * time.Second

// quiet is how long the suite watches for something that must not happen
// (Done closing while messages are unsettled).
const quiet = 300 * time.Millisecond

// seqRecord is the suite's n-th record; g names the goroutine that writes
// it when several do (-1: none).
func seqRecord(g, n int) []byte {
	if g < 0 {
		return fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`, n, strings.Repeat("x", n%17))
	}
	return fmt.Appendf(nil, `{"g":%d,"seq":%d,"pad":"%s"}`, g, n, strings.Repeat("x", n%17))
}

// seqRecords returns records 0..n-1.
func seqRecords(g, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = seqRecord(g, i)
	}
	return out
}

// seqOf reads a record's "seq", or -1 when it has none.
func seqOf(v []byte) int {
	r := gjson.GetBytes(v, "seq")
	if r.Type != gjson.Number {
		return -1
	}
	return int(r.Int())
}

// gOf reads a record's "g", or -1 when it has none.
func gOf(v []byte) int {
	r := gjson.GetBytes(v, "g")
	if r.Type != gjson.Number {
		return -1
	}
	return int(r.Int())
}

// sameJSON reports whether a and b are the same JSON value (members in any
// order, numbers by value).
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// recordsOf returns records whose values are vals, offsets from first on.
func recordsOf(vals [][]byte, first int64) []plugin.Record {
	out := make([]plugin.Record, len(vals))
	for i, v := range vals {
		out[i] = plugin.Record{Value: v, Offset: first + int64(i)}
	}
	return out
}

// cloneRecords deep-copies recs (values included).
func cloneRecords(recs []plugin.Record) []plugin.Record {
	out := make([]plugin.Record, len(recs))
	for i, r := range recs {
		out[i] = plugin.Record{Value: bytes.Clone(r.Value), Offset: r.Offset}
	}
	return out
}

// within runs f and reports whether it returned before d.
func within(d time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// closed reports whether ch is closed within d.
func closed(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

func short(v []byte) string {
	if len(v) > 80 {
		return string(v[:80]) + "…"
	}
	return string(v)
}
