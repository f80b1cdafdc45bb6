package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
	"github.com/conveyor-etl/conveyor/operators"
)

// Issue 17's windowed job, side by side (kswindow* in kstreams.go run it in
// Kafka Streams over the same topic):
//
//	window, windoweos    Conveyor's window.aggregate, at-least-once /
//	                     guarantee = "exactly-once"
//
// Per country, one-minute tumbling windows of event time (event_ms),
// count() and sum(amount), emitted once when each window closes, into an
// output topic keyed by country. The input is --window-records timed
// records (gen.AppendTimed) and then one closing record per partition
// (gen.AppendClosing), an hour of event time after the last record: a
// bounded run closes every window of the records in both programs (Kafka
// Streams' suppress emits a window once its task's stream time passes its
// end + grace; Conveyor's window.aggregate once the watermark, the minimum
// over its input partitions, does; neither emits at the end of a Kafka
// input what is still open, Conveyor keeping it in its changelog). The
// closing records' own windows stay open in both and are not expected.
//
// By default the input is keyed by event_id, record i in partition i mod
// partitions, so each country is spread over several partitions and both
// programs must repartition by country. With --window-by-country the
// input is keyed and partitioned by country instead: no repartition (Kafka
// Streams groups by key; Conveyor's group is the Kafka key).

// windowStage is the id of the Conveyor pipeline's window.aggregate stage
// (its changelog and repartition topics are named after it).
const windowStage = "per_minute"

// closingCountries are the closing records' countries, one per input
// partition p, each with Java's murmur2 partition p among partitions: the
// record on input partition p goes to repartition partition p too, so
// that every task behind a repartition topic sees one.
func closingCountries(partitions int32) []string {
	out := make([]string, partitions)
	found := int32(0)
	part := sarama.NewMurmur2Partitioner("")
	for i := 0; found < partitions && i < 100_000; i++ {
		c := "ZZ" + strconv.Itoa(i)
		p, _ := part.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(c)}, partitions)
		if out[p] == "" {
			out[p] = c
			found++
		}
	}
	return out
}

// seedWindowInput seeds the windowed scenarios' input: the timed records,
// then the closing records.
func (h *harness) seedWindowInput() error {
	h.winIn = h.name("win-in")
	if err := h.createTopic(h.winIn, nil); err != nil {
		return err
	}
	parts := int32(h.opt.partitions)
	t0 := time.Now()
	bytes, err := kit.SeedWith(h.brokers, h.winIn, h.opt.windowRecords, func(dst []byte, i int64) ([]byte, int, int32, error) {
		if h.opt.windowByCountry {
			c := gen.Country(i)
			return gen.AppendTimed(append(dst, c...), i), len(c), gen.CountryPartition(c, parts), nil
		}
		s := len(dst)
		dst = gen.AppendEventID(dst, i)
		k := len(dst) - s
		return gen.AppendTimed(dst, i), k, int32(i % int64(parts)), nil
	})
	if err != nil {
		return err
	}
	closing, t := closingCountries(parts), gen.LastEventMs(h.opt.windowRecords)+time.Hour.Milliseconds()
	if _, err := kit.SeedWith(h.brokers, h.winIn, int64(parts), func(dst []byte, p int64) ([]byte, int, int32, error) {
		c := closing[p]
		return gen.AppendClosing(append(dst, c...), c, t), len(c), int32(p), nil
	}); err != nil {
		return err
	}
	if h.winInEnd, err = h.admin.EndOffsets(h.winIn); err != nil {
		return err
	}
	if got, want := kit.Sum(h.winInEnd), h.windowInput(); got != want {
		return fmt.Errorf("seeded %s: end offsets sum to %d, want %d", h.winIn, got, want)
	}
	h.winInBytes = bytes
	h.logf("seeded %s: %d timed records (keyed by %s) and %d closing records, %.0f MB in %.1fs", h.winIn, h.opt.windowRecords,
		map[bool]string{true: "country", false: "event_id"}[h.opt.windowByCountry], parts, float64(bytes)/1e6, time.Since(t0).Seconds())
	return nil
}

// windowInput is the number of records in the windowed input: the timed
// records and one closing record per partition.
func (h *harness) windowInput() int64 { return h.opt.windowRecords + int64(h.opt.partitions) }

// window runs the windowed job in Conveyor over the seeded input. It is
// done when the output holds every window of the reference and the
// group's commits reached the input's end; the output is then checked
// against the reference (checkWindows).
func (h *harness) window(name string, run int) *result {
	r, b0 := h.base(name, run)
	r.Records, r.InBytes = h.opt.windowRecords, h.winInBytes
	r.Expected = int64(len(gen.Windows(r.Records, time.Minute.Milliseconds())))
	out := h.name(fmt.Sprintf("%s-out-%d", name, run))
	if err := h.createTopic(out, map[string]string{"retention.ms": "-1"}); err != nil { // see kswindow
		r.Err = err.Error()
		return r
	}
	group := h.name(fmt.Sprintf("%s-%d", name, run))
	h.topics = append(h.topics, group+"-"+windowStage+"-changelog", group+"-"+windowStage+"-repartition")
	spec := h.conveyorSpec(childSpec{Scenario: name, InTopic: h.winIn, OutTopic: out, Group: group, Records: h.windowInput(),
		Extra: map[string]int64{"grace_ms": h.opt.windowGrace.Milliseconds()}})
	repartitions := !h.opt.windowByCountry && repartitionKnown()
	if h.opt.windowByCountry && repartitionKnown() {
		spec.Extra["by_key"] = 1
	}
	if repartitions {
		r.note("repartitioned by country")
	} else {
		r.note("no repartition")
	}
	spec.CPUProfile = h.profilePath(name, run)
	p := h.start(r, fmt.Sprintf("%s-%d", name, run), spec, 120*time.Second, b0)
	if p == nil {
		return r
	}
	done := h.kafkaDone(r, out, r.Expected, group, h.winIn, h.winInEnd)
	if repartitions {
		// The input's offsets commit once its records are in the
		// repartition topic, before the windows they close come out.
		done = func() (bool, error) {
			c, err := h.admin.Committed(group, h.winIn)
			if err != nil {
				return false, err
			}
			end, err := h.admin.EndOffsets(out)
			r.Out = kit.Sum(end)
			return err == nil && kit.Reached(c, h.winInEnd) && r.Out >= r.Expected, err
		}
	}
	doneAt, err := h.watch(p, 100*time.Millisecond, time.Duration(r.Records/500+300)*time.Second, done)
	r.Elapsed = doneAt.Sub(p.start)
	h.finish(r, p, b0) // a child's own error (a refused pipeline) first
	if err != nil && r.Err == "" {
		r.Err = err.Error()
	}
	if spec.CPUProfile != "" {
		h.pprofTop(spec.CPUProfile)
	}
	if r.Err != "" {
		return r
	}
	if c, err := h.admin.Committed(group, h.winIn); err != nil || !kit.Reached(c, h.winInEnd) {
		r.Err = fmt.Sprintf("input commits %v did not reach the end %v (%v)", c, h.winInEnd, err)
		return r
	}
	h.checkWindows(r, out, transactional(name))
	return r
}

// repartitionKnown reports whether window.aggregate has the repartition
// key (issue 17's repartition topic); without it a group that is not the
// Kafka key comes out once per partition holding it.
func repartitionKnown() bool {
	var find func(t reflect.Type) bool
	find = func(t reflect.Type) bool {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("key") == "repartition" || (f.Anonymous && f.Type.Kind() == reflect.Struct && find(f.Type)) {
				return true
			}
		}
		return false
	}
	return find(reflect.TypeOf(operators.WindowAggregateConfig{}))
}

// windowTOML is the Conveyor pipeline of the windowed job; with
// Extra["by_key"] the input is partitioned by country (repartition =
// "never").
func windowTOML(spec childSpec) string {
	head := fmt.Sprintf("[pipeline]\nname = %q\nversion = \"1.0.0\"\n", "bench-"+spec.Scenario)
	source := kafkaSource(spec)
	if transactional(spec.Scenario) {
		head += "guarantee = \"exactly-once\"\n"
		source = kafkaSource(spec, "group_instance_id = \"bench\"")
	}
	never := ""
	if spec.Extra["by_key"] == 1 {
		never = "repartition = \"never\"\n"
	}
	head += "\n[global]\nplugins = [\"kafka\", \"window\"]\n\n"
	stage := fmt.Sprintf("\n[[stages]]\nid = %q\nfunction = \"window.aggregate\"\ninputs = [\"consume\"]\n[stages.config]\n"+
		"group_by = [\"country\"]\ntime_field = \"event_ms\"\nwindow = \"tumbling\"\nsize_ms = 60000\ngrace_ms = %d\nemit = \"final\"\n"+
		"%s[stages.config.aggregates]\ncount = \"count()\"\nsum = \"sum(amount)\"\n\n", windowStage, spec.Extra["grace_ms"], never)
	return head + source + stage + kafkaSink(spec, "kafka", windowStage, "country")
}

// windowOut is one record of the windowed job's output: Kafka Streams
// writes the window's start and end in epoch milliseconds, Conveyor in
// RFC 3339.
type windowOut struct {
	Country string          `json:"country"`
	Start   json.RawMessage `json:"window_start"`
	Count   int64           `json:"count"`
	Sum     json.Number     `json:"sum"`
}

// startMs is the window's start in epoch milliseconds.
func (w *windowOut) startMs() (int64, error) {
	var s string
	if json.Unmarshal(w.Start, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UnixMilli(), err
	}
	return strconv.ParseInt(string(w.Start), 10, 64)
}

// cents is the window's sum in cents, rounded (Kafka Streams adds
// doubles).
func (w *windowOut) cents() (int64, error) {
	f, err := w.Sum.Float64()
	if err != nil {
		return 0, err
	}
	if f < 0 {
		return int64(f*100 - 0.5), nil
	}
	return int64(f*100 + 0.5), nil
}

// checkWindows compares the windows in out with the reference computed
// from the generator (gen.Windows). A window that is wrong, missing, not in
// the reference (a closing record's), or unreadable fails the run; a
// window written twice fails an exactly-once run and is noted for an
// at-least-once one when both copies are the same.
func (h *harness) checkWindows(r *result, out string, txn bool) {
	const size = int64(time.Minute / time.Millisecond)
	ref := gen.Windows(r.Records, size)
	seen := map[gen.Window]int{}
	var emitted, wrong, extra, bad, counted int64
	var problems []string
	report := func(format string, args ...any) {
		if len(problems) < 3 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	err := kit.ReadCommitted(h.admin.Client, out, func(_ int32, v []byte) {
		emitted++
		d := json.NewDecoder(strings.NewReader(string(v)))
		d.UseNumber()
		var w windowOut
		if err := d.Decode(&w); err != nil {
			bad++
			report("unreadable output %q: %v", v, err)
			return
		}
		start, err1 := w.startMs()
		cents, err2 := w.cents()
		if err1 != nil || err2 != nil {
			bad++
			report("unreadable window in %q: %v %v", v, err1, err2)
			return
		}
		k := gen.Window{Country: w.Country, Start: start}
		want, ok := ref[k]
		if !ok {
			extra++
			report("window not in the reference: %s", v)
			return
		}
		if seen[k]++; seen[k] == 1 {
			counted += w.Count
		}
		if w.Count != want.Count || cents != want.Cents {
			wrong++
			report("%s window at %d: count %d sum %.2f, want %d and %.2f", w.Country, start, w.Count, float64(cents)/100, want.Count, float64(want.Cents)/100)
		}
	})
	if err != nil {
		r.Err = fmt.Sprintf("reading the output: %v", err)
		return
	}
	r.Out = emitted
	var dup, missing int64
	for k := range ref {
		switch n := seen[k]; {
		case n > 1:
			dup += int64(n - 1)
		case n == 0:
			if missing++; missing == 1 {
				report("%s window at %d never emitted (want count %d)", k.Country, k.Start, ref[k].Count)
			}
		}
	}
	r.note("windows: %d emitted, %d in the reference; %d wrong, %d missing, %d not in the reference, %d unreadable, %d written again; the windows emitted count %d of the %d records",
		emitted, len(ref), wrong, missing, extra, bad, dup, counted, r.Records)
	if wrong+missing+extra+bad > 0 || (txn && dup > 0) {
		r.Err = fmt.Sprintf("wrong windows: %d wrong, %d missing, %d not in the reference, %d unreadable, %d written again (%s)",
			wrong, missing, extra, bad, dup, strings.Join(problems, "; "))
	}
}
