package operators

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// WindowAggregateConfig is the config of "window.aggregate".
type WindowAggregateConfig struct {
	GroupBy   []string      `key:"group_by" doc:"fields whose values make the group (a.b nested); the output holds them under the same names"`
	Key       string        `key:"key" doc:"instead of group_by, an expression giving the group; the output holds its value as \"key\""`
	TimeField string        `key:"time_field" doc:"field holding the event time: RFC 3339, or epoch milliseconds (default _kafka_timestamp, the Kafka message's timestamp)"`
	Window    string        `key:"window" enum:"tumbling,hopping,session,none" doc:"tumbling (size_ms), hopping (size_ms every advance_ms), session (gap_ms) or none (a running aggregate per group, emitted at the end of a bounded input)"`
	Size      time.Duration `key:"size_ms" unit:"ms" min:"0" doc:"length of a tumbling or hopping window"`
	Advance   time.Duration `key:"advance_ms" unit:"ms" min:"0" doc:"how far apart hopping windows start"`
	Gap       time.Duration `key:"gap_ms" unit:"ms" min:"0" doc:"a session ends after this long without a record of its group"`
	Grace     time.Duration `key:"grace_ms" unit:"ms" min:"0" doc:"how long after its end, in event time, a window still takes records; a record later than that is late"`
	Emit      string        `key:"emit" enum:"final,update" doc:"final: each window once, when it closes; update: the window's aggregates again on every change"`
	Late      string        `key:"late" enum:"drop,dead_letter" doc:"what becomes of a late record: drop (counted), or dead_letter (to [error_handling.dead_letter_queue], counted)"`
	Repartition
	Aggregates map[string]string `key:"aggregates" required:"true" doc:"output field = function: count() count(f) sum(f) min(f) max(f) avg(f) first(f) last(f) count_distinct(f)"`
}

// DefaultWindowAggregateConfig is the config's defaults.
func DefaultWindowAggregateConfig() *WindowAggregateConfig {
	return &WindowAggregateConfig{Window: "tumbling", Emit: "final", Late: "drop", Repartition: defaultRepartition()}
}

// spec is the window definition.
func (c *WindowAggregateConfig) spec() window.Spec {
	k, _ := window.ParseKind(c.Window)
	return window.Spec{Kind: k, Size: c.Size.Milliseconds(), Advance: c.Advance.Milliseconds(), Gap: c.Gap.Milliseconds(), Grace: c.Grace.Milliseconds()}
}

// stateOptions are the stage's options for the state runtime.
func (c *WindowAggregateConfig) stateOptions() plugin.StateOptions {
	return c.Repartition.options(c.Late, c.TimeField)
}

// Validate checks what the tags cannot: the window's sizes for its kind,
// the group, and the aggregates table.
func (c *WindowAggregateConfig) Validate() error {
	var errs []error
	errs = append(errs, keyErrors(c.spec().Validate())...)
	if _, err := window.ParseSet(c.Aggregates); err != nil {
		errs = append(errs, keyErrors(err)...)
	}
	if _, err := newGrouping(c.GroupBy, c.Key); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// keyErrors turns errors of the form "key: message" (joined) into config
// errors of that key, so that each is reported at the key's line.
func keyErrors(err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, len(list))
	for i, e := range list {
		key, msg, ok := strings.Cut(e.Error(), ": ")
		if !ok || strings.ContainsAny(key, " \"") {
			out[i] = e
			continue
		}
		out[i] = config.Invalid(key, "%s", msg)
	}
	return out
}

// WindowAggregateSpec is the "window.aggregate" function.
func WindowAggregateSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "window.aggregate",
		Plugin:  "window",
		Summary: "aggregate records per group over event-time windows (count, sum, min, max, avg, first, last, count_distinct)",
		Doc: "Each output record holds the group (the group_by fields, or \"key\"), window_start and window_end (RFC 3339,\n" +
			"UTC; none for window = \"none\") and the aggregates. A window closes when its partition's event time (the\n" +
			"largest time_field seen in the input partition) reaches its end + grace_ms; a record for a window already\n" +
			"closed is late. State is kept per input partition: below a Kafka source, in the changelog topic\n" +
			"<group_id>-<stage id>-changelog, restored when a partition is assigned; without one, in memory, and the\n" +
			"windows still open at the end of the input are emitted then. Below a Kafka source the records are first\n" +
			"repartitioned by the group (topic <group_id>-<stage id>-repartition, see repartition), so that each group is\n" +
			"counted in one partition, and a window closes when every input partition has passed its end + grace_ms.\n" +
			"Give the sink the group as its key (key_field = \"country\").\n",
		Operator: plugin.NewFactory(DefaultWindowAggregateConfig,
			func(_ context.Context, c *WindowAggregateConfig, _ plugin.Env) (plugin.Operator, error) {
				w, err := NewWindowAggregate(c)
				if err != nil {
					return nil, err
				}
				return plugin.Stateful(w, c.stateOptions()), nil
			}),
		State: func(cfg any) plugin.StateOptions { return cfg.(*WindowAggregateConfig).stateOptions() },
	}
}

// WindowAggregate is window.aggregate's processor (see plugin.Processor).
// It keeps nothing of its own: every window's state is in the partition's
// store, under "w" + group + window, and a session's open windows under
// "s" + group.
type WindowAggregate struct {
	spec   window.Spec
	set    *window.Set
	tf     window.TimeField
	group  *grouping
	update bool
	// cols are the fields a record is read for, in one pass: the time
	// field, the group_by fields, then the aggregates' (see
	// window.Set.Fields); times, the time field alone.
	cols, times *record.Fields
	keyCols     *record.Fields // the time and group_by fields (KeyTime)
	// scratch holds *aggScratch: Process is called for several
	// partitions at once, each call takes one.
	scratch sync.Pool
}

// aggScratch is what one Process call works in, reused from record to
// record.
type aggScratch struct {
	vals []gjson.Result // the cols' values
	key  []byte         // the state key: 'w', the group, the window
	enc  []byte         // the window's state, encoded
	acc  *window.State
}

// NewWindowAggregate prepares window.aggregate.
func NewWindowAggregate(c *WindowAggregateConfig) (*WindowAggregate, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	set, _ := window.ParseSet(c.Aggregates)
	g, _ := newGrouping(c.GroupBy, c.Key)
	w := &WindowAggregate{spec: c.spec(), set: set, tf: window.NewTimeField(c.TimeField), group: g, update: c.Emit == "update"}
	cols := append(append([]string{w.tf.Name()}, c.GroupBy...), set.Fields()...)
	w.cols, w.times = record.CompileFields(cols...), record.CompileFields(w.tf.Name())
	w.keyCols = record.CompileFields(cols[:1+len(c.GroupBy)]...)
	w.scratch.New = func() any {
		return &aggScratch{vals: make([]gjson.Result, w.cols.Len()), acc: set.New()}
	}
	return w, nil
}

// Key implements plugin.Keyer: the group.
func (w *WindowAggregate) Key(r plugin.Record) ([]byte, error) {
	k, err := w.group.key(r.Value)
	if err != nil {
		return nil, plugin.Permanent(err)
	}
	return k, nil
}

// KeyTime implements state.KeyTimer: Key and EventTime in one read of
// the record.
func (w *WindowAggregate) KeyTime(r plugin.Record, dst []byte) ([]byte, int64, error) {
	sc := w.scratch.Get().(*aggScratch)
	defer w.scratch.Put(sc)
	vals := sc.vals[:w.keyCols.Len()]
	w.keyCols.Peek(r.Value, vals)
	out, err := w.group.appendKey(dst, r.Value, vals[1:])
	if err != nil {
		return dst, 0, plugin.Permanent(err)
	}
	t, err := w.tf.At(vals[0])
	if err != nil {
		return dst, 0, plugin.Permanent(err)
	}
	return out, t, nil
}

// EventTime implements plugin.Processor.
func (w *WindowAggregate) EventTime(r plugin.Record) (int64, error) {
	var v [1]gjson.Result
	w.times.Peek(r.Value, v[:])
	t, err := w.tf.At(v[0])
	if err != nil {
		return 0, plugin.Permanent(err)
	}
	return t, nil
}

// Process adds r to the windows of its group that take it.
//
// It reads the record once for every field it needs (see cols), and
// works in a scratch (see aggScratch): a record of a window that is open
// already allocates nothing.
func (w *WindowAggregate) Process(st plugin.State, r plugin.Record) error {
	sc := w.scratch.Get().(*aggScratch)
	defer w.scratch.Put(sc)
	w.cols.Peek(r.Value, sc.vals)
	t, _ := w.tf.At(sc.vals[0])
	return w.process(st, r, sc, t)
}

// ProcessTimed implements state.OnePass: EventTime and Process in one
// read of the record.
func (w *WindowAggregate) ProcessTimed(st plugin.State, r plugin.Record, observe func(int64)) (int64, bool, error) {
	sc := w.scratch.Get().(*aggScratch)
	defer w.scratch.Put(sc)
	w.cols.Peek(r.Value, sc.vals)
	t, err := w.tf.At(sc.vals[0])
	if err != nil {
		return 0, false, plugin.Permanent(err)
	}
	if observe != nil {
		observe(t)
	}
	return t, true, w.process(st, r, sc, t)
}

// process is Process for the record's values read into sc, at event time
// t.
func (w *WindowAggregate) process(st plugin.State, r plugin.Record, sc *aggScratch, t int64) error {
	wm := st.Watermark()
	var buf [4]window.Window
	wins, late := w.spec.Place(buf[:0], t, wm, wm)
	if late != window.OnTime {
		return fmt.Errorf("%w: event time %d: %s", plugin.ErrLate, t, late)
	}
	ng := len(w.group.paths)
	k, err := w.group.appendKey(append(sc.key[:0], 'w'), r.Value, sc.vals[1:1+ng])
	if err != nil {
		return plugin.Permanent(err)
	}
	sc.key = k
	group := k[1:]
	if w.spec.Kind == window.Session {
		return w.session(st, group, wins[0], r.Value, t)
	}
	for _, win := range wins {
		k := appendWindow(sc.key[:1+len(group)], win)
		sc.key = k
		v, ok := st.Get(k)
		if !ok {
			w.set.Reset(sc.acc)
		} else if err := w.set.DecodeInto(sc.acc, v); err != nil {
			return fmt.Errorf("window state %q: %w", k, err)
		}
		w.set.AddValues(sc.acc, sc.vals[1+ng:], t)
		sc.enc = w.set.AppendBinary(sc.enc[:0], sc.acc)
		st.Put(k, sc.enc)
		if !ok {
			st.SetTimer(w.spec.CloseAt(win), k)
		}
		if w.update {
			st.Emit(w.result(group, win, sc.acc))
		}
	}
	return nil
}

// session merges the record's session window with its group's open ones.
func (w *WindowAggregate) session(st plugin.State, group []byte, win window.Window, rec []byte, t int64) error {
	ik := append([]byte{'s'}, group...)
	idx, _ := st.Get(ik)
	open := decodeWindows(idx)
	merged, from, to := window.MergeSession(open, win)
	acc := w.set.New()
	for _, o := range open[from:to] {
		k := stateKey(group, o)
		old, _, err := w.load(st, k)
		if err != nil {
			return err
		}
		w.set.Merge(acc, old)
		st.Delete(k)
		st.DeleteTimer(w.spec.CloseAt(o), k)
	}
	w.set.Add(acc, rec, t)
	k := stateKey(group, merged)
	st.Put(k, w.set.AppendBinary(nil, acc))
	st.SetTimer(w.spec.CloseAt(merged), k)
	open = append(open[:from], append([]window.Window{merged}, open[to:]...)...)
	st.Put(ik, encodeWindows(open))
	if w.update {
		st.Emit(w.result(group, merged, acc))
	}
	return nil
}

// load returns the state under k, or a new one.
func (w *WindowAggregate) load(st plugin.State, k []byte) (*window.State, bool, error) {
	v, ok := st.Get(k)
	if !ok {
		return w.set.New(), true, nil
	}
	acc, err := w.set.DecodeState(v)
	if err != nil {
		return nil, false, fmt.Errorf("window state %q: %w", k, err)
	}
	return acc, false, nil
}

// OnTimer emits a closed window (emit = final) and forgets it.
func (w *WindowAggregate) OnTimer(st plugin.State, _ int64, k []byte) error {
	group, win := splitStateKey(k)
	acc, isNew, err := w.load(st, k)
	if err != nil || isNew {
		return err
	}
	if !w.update {
		st.Emit(w.result(group, win, acc))
	}
	st.Delete(k)
	if w.spec.Kind == window.Session {
		ik := append([]byte{'s'}, group...)
		idx, _ := st.Get(ik)
		open := decodeWindows(idx)
		for i, o := range open {
			if o == win {
				open = append(open[:i], open[i+1:]...)
				break
			}
		}
		if len(open) == 0 {
			st.Delete(ik)
		} else {
			st.Put(ik, encodeWindows(open))
		}
	}
	return nil
}

// result is the output record of a window.
func (w *WindowAggregate) result(group []byte, win window.Window, acc *window.State) []byte {
	out := append(make([]byte, 0, 128), '{')
	out = w.group.appendFields(out, group)
	if w.spec.Kind != window.None {
		out = append(out, `"window_start":"`...)
		out = window.AppendTime(out, win.Start)
		out = append(out, `","window_end":"`...)
		out = window.AppendTime(out, win.End)
		out = append(out, `",`...)
	}
	out = w.set.AppendJSON(out, acc)
	return append(out, '}')
}

// stateKey is "w", the group, then the window's start and end.
func stateKey(group []byte, win window.Window) []byte {
	k := make([]byte, 0, 1+len(group)+16)
	return appendWindow(append(append(k, 'w'), group...), win)
}

// appendWindow appends the window's part of a state key.
func appendWindow(k []byte, win window.Window) []byte {
	k = binary.BigEndian.AppendUint64(k, uint64(win.Start)^(1<<63))
	return binary.BigEndian.AppendUint64(k, uint64(win.End)^(1<<63))
}

func splitStateKey(k []byte) ([]byte, window.Window) {
	n := len(k) - 16
	return k[1:n], window.Window{Start: int64(binary.BigEndian.Uint64(k[n:]) ^ (1 << 63)), End: int64(binary.BigEndian.Uint64(k[n+8:]) ^ (1 << 63))}
}

func encodeWindows(ws []window.Window) []byte {
	b := make([]byte, 0, 16*len(ws))
	for _, w := range ws {
		b = binary.BigEndian.AppendUint64(b, uint64(w.Start))
		b = binary.BigEndian.AppendUint64(b, uint64(w.End))
	}
	return b
}

func decodeWindows(b []byte) []window.Window {
	ws := make([]window.Window, 0, len(b)/16+1)
	for ; len(b) >= 16; b = b[16:] {
		ws = append(ws, window.Window{Start: int64(binary.BigEndian.Uint64(b)), End: int64(binary.BigEndian.Uint64(b[8:]))})
	}
	return ws
}
