package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// Each closing country's murmur2 partition is the input partition it is
// written to, so that every repartition partition gets one.
func TestClosingCountriesCoverEveryPartition(t *testing.T) {
	part := sarama.NewMurmur2Partitioner("")
	for _, n := range []int32{1, 6, 12} {
		cs := closingCountries(n)
		for p, c := range cs {
			got, _ := part.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(c)}, n)
			if c == "" || got != int32(p) {
				t.Errorf("%d partitions: partition %d's closing country %q goes to %d", n, p, c, got)
			}
		}
	}
}

// Both programs' windows read the same: Kafka Streams' epoch ms and double
// sum, Conveyor's RFC 3339 and exact decimal.
func TestWindowOutBothFormats(t *testing.T) {
	for _, v := range []string{
		`{"country":"FR","window_start":1795607940000,"window_end":1795608000000,"count":125,"sum":12558.750000000002}`,
		`{"country":"FR","window_start":"2026-11-25T11:59:00Z","window_end":"2026-11-25T12:00:00Z","count":125,"sum":12558.75}`,
	} {
		d := json.NewDecoder(strings.NewReader(v))
		d.UseNumber()
		var w windowOut
		if err := d.Decode(&w); err != nil {
			t.Fatal(err)
		}
		start, err1 := w.startMs()
		cents, err2 := w.cents()
		if err1 != nil || err2 != nil || start != 1795607940000 || cents != 1255875 || w.Count != 125 {
			t.Errorf("%s: start %d cents %d count %d (%v, %v)", v, start, cents, w.Count, err1, err2)
		}
	}
}

// The windowed pipeline is a valid Conveyor pipeline, both guarantees, with
// and without repartition = "never" (when window.aggregate knows the key).
func TestWindowTOMLValidates(t *testing.T) {
	for _, name := range []string{"window", "windoweos"} {
		for _, byKey := range []int64{0, 1} {
			if byKey == 1 && !repartitionKnown() {
				continue
			}
			spec := childSpec{Scenario: name, Brokers: []string{"127.0.0.1:1"}, InTopic: "in", OutTopic: "out", Group: "g", Records: 10,
				Extra: map[string]int64{"grace_ms": 10000, "by_key": byKey}}
			text := windowTOML(spec)
			p, err := config.Parse("bench.toml", []byte(text))
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, text)
			}
			err = flow.Validate(p)
			if err != nil {
				t.Errorf("%s by_key=%d: %v\n%s", name, byKey, err, text)
			}
		}
	}
}

// The goal rows compare each round's Conveyor run with the Kafka Streams run
// of the same round, and judge the medians against 3× and a third.
func TestWindowGoalRows(t *testing.T) {
	h := &harness{}
	add := func(name string, run int, secs, cpuSecs float64) {
		h.results = append(h.results, &result{Name: name, Run: run, Records: 1_000_000,
			Elapsed: time.Duration(secs * float64(time.Second)), CPU: time.Duration(cpuSecs * float64(time.Second))})
	}
	add("window", 1, 10, 4)
	add("kswindow", 1, 40, 16) // 4×, a quarter
	add("window", 2, 20, 4)
	add("kswindow", 2, 40, 8) // 2×, a half
	add("windoweos", 1, 10, 1)
	h.results = append(h.results, &result{Name: "kswindoweos", Run: 1, Records: 1_000_000, Err: "wrong windows"})
	g := h.goals()
	for _, want := range []string{
		"| windows: Conveyor / Kafka Streams at_least_once (records/s) | 3.00× (75000 vs 25000); per round 3.00× median, 2.00–4.00×, 2 rounds | ≥ 3× | yes |",
		"| windows: Conveyor / Kafka Streams at_least_once (CPU per record) | 0.333× (4.00 vs 12.00 µs); per round 0.38× median, 0.25–0.50×, 2 rounds | ≤ 0.333× |",
		"| windows: Conveyor / Kafka Streams exactly_once_v2 (records/s) | not run | ≥ 3× | — |",
	} {
		if !strings.Contains(g, want) {
			t.Errorf("goals lack\n%s\nin\n%s", want, g)
		}
	}
}
