// Package ordergen generates order events with event times for testing
// event-time windows end to end, and computes the expected windows with a
// plain reference computation that shares no code with internal/window.
//
// Generate is deterministic: the same Config gives the same events on
// every machine. Each partition has its own clock that advances by a
// random step per event, so partitions drift apart in event time; among
// the events, OutOfOrder (default 5 %) are up to grace behind their
// partition's clock, never late, and Late (default 0.5 %) are more than
// grace behind it, late or not as the per-partition rule decides (see
// Reference). Events come in "live" order: by their partition's clock, as
// a producer writing in real time would write them.
package ordergen

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// Config says what to generate. Times are milliseconds.
type Config struct {
	Records    int     // total events
	Partitions int     // spread evenly, event i of a partition at offset i
	Seed       uint64  // same seed, same events
	Start      int64   // event time of the first event of each partition (ms since the epoch); default 2026-12-07T00:00:00Z
	Step       int64   // mean event-time step between a partition's events; default 20
	Size       int64   // window size, for how far late events go back; default 10000
	Grace      int64   // default 5000
	OutOfOrder float64 // fraction of events out of order within grace; default 0.05
	Late       float64 // fraction of events more than grace behind; default 0.005
	Countries  int     // distinct countries; default 8
	Users      int     // distinct users; default 1000
}

func (c *Config) defaults() {
	if c.Start == 0 {
		c.Start = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	if c.Step <= 0 {
		c.Step = 20
	}
	if c.Size <= 0 {
		c.Size = 10000
	}
	if c.Grace <= 0 {
		c.Grace = 5000
	}
	if c.OutOfOrder == 0 {
		c.OutOfOrder = 0.05
	}
	if c.Late == 0 {
		c.Late = 0.005
	}
	if c.Countries <= 0 {
		c.Countries = 8
	}
	if c.Users <= 0 {
		c.Users = 1000
	}
	c.Partitions = max(c.Partitions, 1)
}

// Event is one order.
type Event struct {
	Partition int32
	Offset    int64 // its index within its partition
	OrderID   string
	Country   string
	Amount    int64 // cents; written as a decimal with two places
	UserID    string
	Time      int64 // event time, ms since the epoch
	clock     int64 // its partition's clock when it was written (live order)
}

var countryCodes = []string{"DE", "FR", "US", "GB", "JP", "BR", "IN", "NL", "ES", "IT", "SE", "PL", "CA", "AU", "MX", "KR"}

// Generate returns c.Records events in live order.
func Generate(c Config) []Event {
	c.defaults()
	r := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	clocks := make([]int64, c.Partitions)
	for p := range clocks {
		clocks[p] = c.Start
	}
	offsets := make([]int64, c.Partitions)
	evs := make([]Event, 0, c.Records)
	for i := range c.Records {
		p := i % c.Partitions
		if i >= c.Partitions {
			clocks[p] += 1 + r.Int64N(2*c.Step)
		}
		t := clocks[p]
		switch x := r.Float64(); {
		case x < c.Late:
			t -= c.Grace + 1 + r.Int64N(2*c.Size)
		case x < c.Late+c.OutOfOrder:
			t -= 1 + r.Int64N(c.Grace-1)
		}
		country := countryCodes[r.IntN(min(c.Countries, len(countryCodes)))]
		evs = append(evs, Event{
			Partition: int32(p), Offset: offsets[p],
			OrderID: fmt.Sprintf("o-%08d", i), Country: country,
			Amount: 1 + r.Int64N(50000), UserID: "u-" + strconv.Itoa(r.IntN(c.Users)),
			Time: t, clock: clocks[p],
		})
		offsets[p]++
	}
	slices.SortStableFunc(evs, func(a, b Event) int {
		if a.clock != b.clock {
			return int(a.clock - b.clock)
		}
		return int(a.Partition - b.Partition)
	})
	return evs
}

// AppendJSON appends the event's record:
// {"order_id":"o-00000001","country":"DE","amount":123.45,"user_id":"u-7","ts":"2026-12-07T00:00:01.234Z"}.
// With epochMillis, ts is the number of milliseconds instead.
func (e Event) AppendJSON(dst []byte, epochMillis bool) []byte {
	dst = append(dst, `{"order_id":"`...)
	dst = append(dst, e.OrderID...)
	dst = append(dst, `","country":"`...)
	dst = append(dst, e.Country...)
	dst = append(dst, `","amount":`...)
	dst = AppendCents(dst, e.Amount)
	dst = append(dst, `,"user_id":"`...)
	dst = append(dst, e.UserID...)
	dst = append(dst, `","ts":`...)
	if epochMillis {
		dst = strconv.AppendInt(dst, e.Time, 10)
	} else {
		dst = append(dst, '"')
		dst = time.UnixMilli(e.Time).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// AppendCents appends a non-negative amount of cents as a decimal with
// two places ("123.45", "0.07").
func AppendCents(dst []byte, cents int64) []byte {
	dst = strconv.AppendInt(dst, cents/100, 10)
	return append(dst, '.', byte('0'+cents%100/10), byte('0'+cents%10))
}

// ByPartition returns the events of each partition in offset order.
func ByPartition(evs []Event) [][]Event {
	n := int32(0)
	for _, e := range evs {
		n = max(n, e.Partition+1)
	}
	parts := make([][]Event, n)
	for _, e := range evs {
		parts[e.Partition] = append(parts[e.Partition], e)
	}
	return parts
}

// Messages returns the events as Kafka messages to produce in this order:
// each to its partition, keyed by its order_id, its value AppendJSON's
// record, and its event time as the message timestamp too, so a stage
// reading _kafka_timestamp (the default time_field) sees the same times
// as one reading "ts".
func Messages(evs []Event, epochMillis bool) []kafkautil.Msg {
	msgs := make([]kafkautil.Msg, len(evs))
	for i, e := range evs {
		msgs[i] = kafkautil.Msg{Partition: e.Partition, Key: []byte(e.OrderID), Value: e.AppendJSON(nil, epochMillis), Timestamp: time.UnixMilli(e.Time)}
	}
	return msgs
}
