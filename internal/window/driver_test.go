package window

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// driver is a minimal window.aggregate over this package, for the tests:
// one instance, state in maps, every window emitted when it closes.
type driver struct {
	t        testing.TB
	spec     Spec
	set      *Set
	tf       TimeField
	group    record.Path
	tr       *Tracker
	open     map[string]map[Window]*State // group -> open windows
	sessions map[string][]Window          // group -> open sessions, sorted
	out      map[string]string            // group|start -> output record
	late     []string                     // order_id of late records
	lateWhy  map[Lateness]int
	buf      []Window
	closedAt int64 // the watermark of the last close
}

func newDriver(t testing.TB, spec Spec, aggs map[string]string, idle int64) *driver {
	set, err := ParseSet(aggs)
	if err != nil {
		t.Fatal(err)
	}
	return &driver{t: t, spec: spec, set: set, tf: NewTimeField("ts"), group: record.CompilePath("country"),
		tr: NewTracker(idle), open: map[string]map[Window]*State{}, sessions: map[string][]Window{},
		out: map[string]string{}, lateWhy: map[Lateness]int{}, closedAt: NoTime}
}

func (d *driver) feed(p int32, rec []byte, wall int64) {
	ts, err := d.tf.Of(rec)
	if err != nil {
		d.t.Fatal(err)
	}
	prev := d.tr.Observe(p, ts, wall)
	var why Lateness
	d.buf, why = d.spec.Place(d.buf[:0], ts, prev, d.tr.Watermark())
	g := d.group.Get(rec).String()
	if why != OnTime {
		d.late = append(d.late, record.CompilePath("order_id").Get(rec).String())
		d.lateWhy[why]++
		return
	}
	ws := d.open[g]
	if ws == nil {
		ws = map[Window]*State{}
		d.open[g] = ws
	}
	for _, w := range d.buf {
		if d.spec.Kind == Session {
			merged, from, to := MergeSession(d.sessions[g], w)
			st := d.set.New()
			for _, o := range d.sessions[g][from:to] {
				d.set.Merge(st, ws[o])
				delete(ws, o)
			}
			d.sessions[g] = slices.Replace(d.sessions[g], from, to, merged)
			ws[merged] = st
			w = merged
		}
		st := ws[w]
		if st == nil {
			st = d.set.New()
			ws[w] = st
		}
		// Round-trip the state as a changelog would, every time.
		b := d.set.AppendBinary(nil, st)
		st2, err := d.set.DecodeState(b)
		if err != nil {
			d.t.Fatal(err)
		}
		d.set.Add(st2, rec, ts)
		ws[w] = st2
	}
	d.close(d.tr.Advance(wall))
}

func (d *driver) close(wm int64) {
	if wm == d.closedAt {
		return // nothing new can close
	}
	d.closedAt = wm
	for g, ws := range d.open {
		for w, st := range ws {
			if d.spec.CloseAt(w) > wm {
				continue
			}
			k := fmt.Sprintf("%s|%d", g, w.Start)
			if _, dup := d.out[k]; dup {
				d.t.Fatalf("window %s emitted twice", k)
			}
			rec := []byte(`{"country":`)
			rec = record.AppendString(rec, g)
			rec = append(rec, `,"window_start":"`...)
			rec = AppendTime(rec, w.Start)
			rec = append(rec, `","window_end":"`...)
			rec = AppendTime(rec, w.End)
			rec = append(rec, `",`...)
			rec = d.set.AppendJSON(rec, st)
			d.out[k] = string(append(rec, '}'))
			delete(ws, w)
			if d.spec.Kind == Session {
				i := slices.Index(d.sessions[g], w)
				d.sessions[g] = slices.Delete(d.sessions[g], i, i+1)
			}
		}
	}
}

func (d *driver) finish() {
	d.tr.Finish()
	d.close(math.MaxInt64)
}

// totals reads the count and sum (in cents) of every emitted window.
func (d *driver) totals() map[string][2]int64 {
	got := map[string][2]int64{}
	for k, rec := range d.out {
		var v struct {
			Orders  int64       `json:"orders"`
			Revenue json.Number `json:"revenue"`
		}
		if err := json.Unmarshal([]byte(rec), &v); err != nil {
			d.t.Fatalf("%s: %v", rec, err)
		}
		got[k] = [2]int64{v.Orders, cents(d.t, string(v.Revenue))}
	}
	return got
}

// cents reads an exact decimal with two places, as sum(amount) of amounts
// with two places must be.
func cents(t testing.TB, s string) int64 {
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("revenue %q is not a decimal with two places", s)
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("revenue %q: %v %v", s, err1, err2)
	}
	return w*100 + f
}
