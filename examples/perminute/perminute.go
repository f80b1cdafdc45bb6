// Package perminute is a stateful operator written in Go with Conveyor's
// state API (plugin.Processor): "orders.perminute" counts orders per
// country per minute of event time, and emits each minute's count once,
// when the minute has closed.
//
// It is the operator a new user first tries to write with a plain
// plugin.Operator, and gets wrong in three ways: batches of several
// partitions interleave (fragments of one minute), Close cannot emit
// (counts of minutes still open at the end are lost), and records absorbed
// into an open minute look filtered, so their offsets are committed and a
// crash loses them. With plugin.Stateful the runtime gives it, per input
// partition, a store and a watermark in event time, timers, and emitting
// at the end of a bounded input; it writes every change to a changelog
// before the offsets that caused it are committed, and restores it when a
// partition is assigned. Its Key (the country) makes it a plugin.Keyer: with
// Repartition = "auto", below a Kafka source the runtime first repartitions
// the orders by country, so that a country's minute is counted in one
// place whatever the topic's Kafka key.
package perminute

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

// Config is the config of "orders.perminute".
type Config struct {
	TimeField string        `key:"time_field" doc:"field holding the order's time in epoch milliseconds"`
	Grace     time.Duration `key:"grace_ms" unit:"ms" min:"0" doc:"how long after its end a minute still takes orders (in event time)"`
	Late      string        `key:"late" enum:"drop,dead_letter" doc:"what becomes of an order that comes after its minute closed"`
}

// Spec is the "orders.perminute" function.
func Spec() *plugin.Spec {
	return &plugin.Spec{
		Name: "orders.perminute", Plugin: "orders", Summary: "count orders per country per minute of event time",
		Operator: plugin.NewFactory(func() *Config { return &Config{TimeField: "ts", Late: "drop"} },
			func(_ context.Context, c *Config, _ plugin.Env) (plugin.Operator, error) {
				return plugin.Stateful(&counter{field: c.TimeField, grace: c.Grace.Milliseconds()}, c.stateOptions()), nil
			}),
		// State declares the operator stateful, so that a pipeline is
		// checked (exactly-once, late = "dead_letter") before it runs.
		State: func(cfg any) plugin.StateOptions { return cfg.(*Config).stateOptions() },
	}
}

// stateOptions are the stage's options for the state runtime.
func (c *Config) stateOptions() plugin.StateOptions {
	return plugin.StateOptions{Late: c.Late, Repartition: plugin.RepartitionAuto, TimeField: c.TimeField}
}

const minute = int64(time.Minute / time.Millisecond)

// counter is the processor. It holds no state of its own: everything is
// in the plugin.State it is handed, so it is safe for the runtime's
// concurrent calls (one per partition).
type counter struct {
	field string
	grace int64
}

type order struct {
	Country string `json:"country"`
}

// EventTime reads the time field.
func (c *counter) EventTime(r plugin.Record) (int64, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return 0, plugin.Permanent(err)
	}
	var ms int64
	if err := json.Unmarshal(v[c.field], &ms); err != nil {
		return 0, plugin.Permanent(fmt.Errorf("%s: want epoch milliseconds: %w", c.field, err))
	}
	return ms, nil
}

// Key is the country: what the runtime repartitions by (plugin.Keyer).
func (c *counter) Key(r plugin.Record) ([]byte, error) {
	var o order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return nil, plugin.Permanent(err)
	}
	return []byte(o.Country), nil
}

// Process counts the order in its country's minute, and sets a timer for
// when the minute closes.
func (c *counter) Process(st plugin.State, r plugin.Record) error {
	ts, _ := c.EventTime(r)
	start := ts - ((ts%minute)+minute)%minute
	closeAt := start + minute + c.grace
	if closeAt <= st.Watermark() {
		return fmt.Errorf("%w: order at %d, its minute closed at %d", plugin.ErrLate, ts, closeAt)
	}
	var o order
	if err := json.Unmarshal(r.Value, &o); err != nil {
		return plugin.Permanent(err)
	}
	key := binary.BigEndian.AppendUint64(nil, uint64(start))
	key = append(key, o.Country...)
	n := uint64(0)
	if v, ok := st.Get(key); ok {
		n, _ = binary.Uvarint(v)
	}
	st.Put(key, binary.AppendUvarint(nil, n+1))
	st.SetTimer(closeAt, key)
	return nil
}

// OnTimer emits a closed minute's count and forgets it.
func (c *counter) OnTimer(st plugin.State, _ int64, key []byte) error {
	v, ok := st.Get(key)
	if !ok {
		return nil
	}
	n, _ := binary.Uvarint(v)
	start := int64(binary.BigEndian.Uint64(key[:8]))
	out, err := json.Marshal(map[string]any{"country": string(key[8:]),
		"minute": time.UnixMilli(start).UTC().Format(time.RFC3339), "orders": n})
	if err != nil {
		return err
	}
	st.Emit(out)
	st.Delete(key)
	return nil
}
