package gen

import (
	"encoding/json"
	"testing"
)

// AppendTimed is Append's record with event_ms, valid JSON; the windows
// reference counts every record once, in the window of its event time.
func TestAppendTimedAndWindows(t *testing.T) {
	const n = 130_000
	for _, i := range []int64{0, 13, 33, 19_999, n - 1} {
		var r struct {
			EventMs int64   `json:"event_ms"`
			Country string  `json:"country"`
			Amount  float64 `json:"amount"`
		}
		if err := json.Unmarshal(AppendTimed(nil, i), &r); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, AppendTimed(nil, i))
		}
		if r.EventMs != EventMs(i) || r.Country != Country(i) || int64(r.Amount*100+0.5) != Amount(i) {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if EventMs(13) != EventBase+13-5000 || EventMs(14) != EventBase+14 {
		t.Errorf("EventMs(13) = %d, EventMs(14) = %d", EventMs(13), EventMs(14))
	}
	var count, cents, want int64
	for w, tot := range Windows(n, 60_000) {
		if w.Start%60_000 != 0 {
			t.Errorf("window start %d", w.Start)
		}
		count += tot.Count
		cents += tot.Cents
	}
	for i := range int64(n) {
		want += Amount(i)
	}
	if count != n || cents != want {
		t.Errorf("windows hold %d records, %d cents; want %d and %d", count, cents, n, want)
	}
}

// A closing record is valid JSON with its country, amount 0 and time; the
// last event time is the greatest of the records.
func TestClosingAndLastEventMs(t *testing.T) {
	var r struct {
		EventMs int64   `json:"event_ms"`
		Country string  `json:"country"`
		Amount  float64 `json:"amount"`
	}
	if err := json.Unmarshal(AppendClosing(nil, "ZZ3", 42), &r); err != nil || r.Country != "ZZ3" || r.EventMs != 42 || r.Amount != 0 {
		t.Errorf("closing record %+v, %v", r, err)
	}
	var want int64
	for i := range int64(1000) {
		want = max(want, EventMs(i))
	}
	if got := LastEventMs(1000); got != want {
		t.Errorf("LastEventMs(1000) = %d, want %d", got, want)
	}
	seen := map[int32]bool{}
	for i := range int64(8) {
		seen[CountryPartition(Country(i), 6)] = true
	}
	if len(seen) != 6 {
		t.Errorf("8 countries cover %d of 6 partitions", len(seen))
	}
}
