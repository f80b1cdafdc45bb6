// Package gen makes the benchmark records: deterministic JSON events of
// about 150 bytes, half of which pass the Example 3 filter (amount >= 100).
package gen

import (
	"strconv"
)

// Threshold is the filter the ETL scenarios apply: amount >= Threshold keeps
// a record. Exactly half of every 20,000 consecutive records pass.
const Threshold = 100

var events = [...]string{"purchase", "view", "login", "refund", "signup"}
var countries = [...]string{"DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"}

// scramble spreads i over [0, n) as a permutation of each block of n
// consecutive indexes (n and the multiplier are coprime).
func scramble(i, n int64) int64 { return (i * 7919) % n }

// Amount is record i's amount in cents: a permutation of 0..19999 over each
// block of 20,000 records, so exactly half are >= 10000 (100.00).
func Amount(i int64) int64 { return scramble(i, 20000) }

// Keep reports whether record i passes amount >= Threshold.
func Keep(i int64) bool { return Amount(i) >= Threshold*100 }

// Kept counts the records among [0, n) that pass the filter.
func Kept(n int64) int64 {
	full := n / 20000 * 10000
	for i := n / 20000 * 20000; i < n; i++ {
		if Keep(i) {
			full++
		}
	}
	return full
}

// UserID is record i's user_id, the key of the output topic.
func UserID(i int64) int64 { return (i*2654435761)%100000 + 1 }

// AppendEventID appends record i's event_id ("evt-000000000123").
func AppendEventID(dst []byte, i int64) []byte {
	dst = append(dst, "evt-"...)
	var digits [12]byte
	s := strconv.AppendInt(digits[:0], i, 10)
	for range 12 - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Append appends record i, compact JSON of 148 to 157 bytes:
//
//	{"event_id":"evt-000000000123","user_id":7919,"event":"view","amount":92.17,
//	 "currency":"EUR","ts":"2026-11-25T12:00:03Z","country":"FR","device":"web"}
func Append(dst []byte, i int64) []byte {
	dst = append(dst, `{"event_id":"`...)
	dst = AppendEventID(dst, i)
	dst = append(dst, `","user_id":`...)
	dst = strconv.AppendInt(dst, UserID(i), 10)
	dst = append(dst, `,"event":"`...)
	dst = append(dst, events[i%int64(len(events))]...)
	dst = append(dst, `","amount":`...)
	a := Amount(i)
	dst = strconv.AppendInt(dst, a/100, 10)
	dst = append(dst, '.', byte('0'+a%100/10), byte('0'+a%10))
	dst = append(dst, `,"currency":"EUR","ts":"2026-11-25T`...)
	s := i % 86400
	dst = append2(dst, s/3600)
	dst = append(dst, ':')
	dst = append2(dst, s/60%60)
	dst = append(dst, ':')
	dst = append2(dst, s%60)
	dst = append(dst, `Z","country":"`...)
	dst = append(dst, countries[i%int64(len(countries))]...)
	dst = append(dst, `","device":"web"}`...)
	return dst
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

// EventBase is record 0's event time: 2026-11-25T12:00:00Z in epoch
// milliseconds.
const EventBase int64 = 1795608000000

// EventMs is record i's event time in epoch milliseconds: one millisecond
// after record i-1, except that one record in 20 (i%20 == 13) is 5 s older
// than its neighbours (out of order, within a grace of 5 s or more). Record i
// goes to partition i mod 6, so each partition's event times are mostly
// increasing too.
func EventMs(i int64) int64 {
	t := EventBase + i
	if i%20 == 13 {
		t -= 5000
	}
	return t
}

// Country is record i's country, the windowed job's group key.
func Country(i int64) string { return countries[i%int64(len(countries))] }

// AppendTimed appends record i as Append does, with its event time as one
// more member, "event_ms" (epoch milliseconds; EventMs), before the closing
// brace: the records of the windowed scenarios. The other scenarios keep
// Append's records, so that their figures stay comparable.
func AppendTimed(dst []byte, i int64) []byte {
	dst = Append(dst, i)
	dst = append(dst[:len(dst)-1], `,"event_ms":`...)
	dst = strconv.AppendInt(dst, EventMs(i), 10)
	return append(dst, '}')
}

// Window is one tumbling window of one country: its start in epoch ms.
type Window struct {
	Country string
	Start   int64
}

// Totals is what a window holds: its records and the sum of their amounts
// in cents.
type Totals struct {
	Count int64
	Cents int64
}

// Windows is the reference of the windowed job: count and sum(amount) per
// country per tumbling window of sizeMs over records [0, n), every record
// counted (none is later than the grace of the scenario).
func Windows(n, sizeMs int64) map[Window]Totals {
	out := map[Window]Totals{}
	for i := range n {
		t := EventMs(i)
		w := Window{Country(i), t - t%sizeMs}
		s := out[w]
		s.Count++
		s.Cents += Amount(i)
		out[w] = s
	}
	return out
}

// CountryPartition is the partition of country c among n when the
// windowed input is keyed by country (every record of a country in one
// partition): the country's place in the list, modulo n.
func CountryPartition(c string, n int32) int32 {
	for i, x := range countries {
		if x == c {
			return int32(i) % n
		}
	}
	return 0
}

// LastEventMs is the greatest event time among records [0, n).
func LastEventMs(n int64) int64 {
	var t int64
	for i := max(n-20, 0); i < n; i++ {
		t = max(t, EventMs(i))
	}
	return t
}

// AppendClosing appends a closing record: an order of country (none of
// Country's) with amount 0 at event time t. The windowed scenarios write
// one after the records on every partition, far ahead in event time, so
// that every window of the records closes in a bounded run; the closing
// records' own windows never close and are not in the reference.
func AppendClosing(dst []byte, country string, t int64) []byte {
	dst = append(dst, `{"event_id":"close-`...)
	dst = append(dst, country...)
	dst = append(dst, `","amount":0,"country":"`...)
	dst = append(dst, country...)
	dst = append(dst, `","event_ms":`...)
	dst = strconv.AppendInt(dst, t, 10)
	return append(dst, '}')
}
