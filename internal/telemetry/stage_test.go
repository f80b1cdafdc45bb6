package telemetry

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Windows a stateful stage emits at the end of a bounded input move their
// records from filtered to out in the stage's totals, while
// conveyor_records_filtered_total never goes down (a Prometheus counter
// that decreases reads as a reset).
func TestEmittedAtEndKeepsTheFilteredCounterMonotonic(t *testing.T) {
	s := &Stage{ID: "count", Function: "window.aggregate", Role: "operator"}
	var filtered prometheus.Collector
	for _, c := range s.collectors() {
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		if d := <-ch; d != nil && strings.Contains(d.String(), RecordsFiltered) {
			filtered = c
		}
	}
	if filtered == nil {
		t.Fatal("no " + RecordsFiltered + " collector")
	}
	read := func() float64 {
		ch := make(chan prometheus.Metric, 1)
		filtered.Collect(ch)
		var m dto.Metric
		if err := (<-ch).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	s.Operated(4, 0, 4)
	before := read()
	s.EmittedAtEnd(2)
	c := s.Counts()
	if c.In != 4 || c.Out != 2 || c.Filtered != 2 {
		t.Errorf("counts after the end: %+v, want in=4 out=2 filtered=2", c)
	}
	if after := read(); after < before {
		t.Errorf("%s went down from %v to %v", RecordsFiltered, before, after)
	}
	s.EmittedAtEnd(5) // more than was filtered: filtered stops at 0
	if c := s.Counts(); c.Filtered != 0 || c.Out != 7 {
		t.Errorf("counts after emitting more than was filtered: %+v, want out=7 filtered=0", c)
	}
}
