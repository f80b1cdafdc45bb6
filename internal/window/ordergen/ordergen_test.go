package ordergen

import (
	"slices"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	c := Config{Records: 20000, Partitions: 4, Seed: 3}
	a, b := Generate(c), Generate(c)
	if !slices.Equal(a, b) {
		t.Fatal("same config, different events")
	}
	c.Seed = 4
	if slices.Equal(a, Generate(c)) {
		t.Fatal("another seed, same events")
	}
	// The fractions: out of order within grace about 5 %, more than grace
	// behind about 0.5 %, of which the reference finds some late.
	var behind, farBehind int
	for _, part := range ByPartition(a) {
		greatest := part[0].Time
		for i, e := range part {
			if e.Offset != int64(i) {
				t.Fatalf("partition %d: offset %d at %d", e.Partition, e.Offset, i)
			}
			switch d := greatest - e.Time; {
			case d > 5000:
				farBehind++
			case d > 0:
				behind++
			}
			greatest = max(greatest, e.Time)
		}
	}
	if behind < 800 || behind > 1200 || farBehind < 60 || farBehind > 140 {
		t.Fatalf("%d within grace, %d beyond, of %d", behind, farBehind, len(a))
	}
	exp := Reference(a, 10000, 5000)
	if n := len(exp.Late); n == 0 || n > farBehind {
		t.Fatalf("%d late of %d beyond grace", n, farBehind)
	}
	var total int64
	for _, w := range exp.Windows {
		total += w.Count
	}
	if total+int64(len(exp.Late)) != int64(len(a)) {
		t.Fatalf("windows hold %d, late %d, of %d", total, len(exp.Late), len(a))
	}
}

func TestAppendJSON(t *testing.T) {
	e := Event{OrderID: "o-1", Country: "DE", Amount: 1207, UserID: "u-7", Time: 1796601660250}
	if got := string(e.AppendJSON(nil, false)); got != `{"order_id":"o-1","country":"DE","amount":12.07,"user_id":"u-7","ts":"2026-12-07T00:01:00.250Z"}` {
		t.Fatal(got)
	}
	if got := string(e.AppendJSON(nil, true)); got != `{"order_id":"o-1","country":"DE","amount":12.07,"user_id":"u-7","ts":1796601660250}` {
		t.Fatal(got)
	}
}

func TestMessages(t *testing.T) {
	evs := Generate(Config{Records: 10, Partitions: 3, Seed: 1})
	msgs := Messages(evs, true)
	for i, m := range msgs {
		e := evs[i]
		if m.Partition != e.Partition || string(m.Key) != e.OrderID || m.Timestamp.UnixMilli() != e.Time || string(m.Value) != string(e.AppendJSON(nil, true)) {
			t.Fatalf("message %d: %+v for %+v", i, m, e)
		}
	}
}
