package operators

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// DedupeConfig is the config of "dedupe.apply".
type DedupeConfig struct {
	Key       string        `key:"key" required:"true" doc:"expression giving a record's identity (\"order_id\"); the first record of each identity is kept, later ones dropped"`
	TTL       time.Duration `key:"ttl_ms" unit:"ms" min:"0" doc:"how long, in event time, an identity is remembered after its first record (0: for ever)"`
	TimeField string        `key:"time_field" doc:"field holding the event time: RFC 3339, or epoch milliseconds (default _kafka_timestamp, the Kafka message's timestamp)"`
	Repartition
}

// Validate compiles the key.
func (c *DedupeConfig) Validate() error {
	_, err := newGrouping(nil, c.Key)
	return err
}

// stateOptions are the stage's options for the state runtime.
func (c *DedupeConfig) stateOptions() plugin.StateOptions {
	return c.Repartition.options("", c.TimeField)
}

// DedupeSpec is the "dedupe.apply" function.
func DedupeSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "dedupe.apply",
		Plugin:  "dedupe",
		Summary: "keep the first record of each key, drop the later ones (for ttl_ms of event time)",
		Doc: "The identities seen are state, kept per input partition like window.aggregate's: below a Kafka source in\n" +
			"the changelog topic <group_id>-<stage id>-changelog, so a restart or a rebalance does not forget them.\n" +
			"Below a Kafka source the records are first repartitioned by the identity (see repartition), so that the\n" +
			"duplicates of one identity meet in one partition. An identity is\n" +
			"forgotten once the partition's event time reaches its first record's time + ttl_ms.\n",
		Operator: plugin.NewFactory(func() *DedupeConfig { return &DedupeConfig{Repartition: defaultRepartition()} },
			func(_ context.Context, c *DedupeConfig, _ plugin.Env) (plugin.Operator, error) {
				d, err := NewDedupe(c)
				if err != nil {
					return nil, err
				}
				return plugin.Stateful(d, c.stateOptions()), nil
			}),
		State: func(cfg any) plugin.StateOptions { return cfg.(*DedupeConfig).stateOptions() },
	}
}

// Dedupe is dedupe.apply's processor: per identity, the event time of its
// first record, and a timer that forgets it after ttl_ms.
type Dedupe struct {
	key *grouping
	ttl int64
	tf  window.TimeField
}

// NewDedupe prepares dedupe.apply.
func NewDedupe(c *DedupeConfig) (*Dedupe, error) {
	g, err := newGrouping(nil, c.Key)
	if err != nil {
		return nil, err
	}
	return &Dedupe{key: g, ttl: c.TTL.Milliseconds(), tf: window.NewTimeField(c.TimeField)}, nil
}

// Key implements plugin.Keyer: the identity.
func (d *Dedupe) Key(r plugin.Record) ([]byte, error) {
	k, err := d.key.key(r.Value)
	if err != nil {
		return nil, plugin.Permanent(err)
	}
	return k, nil
}

// EventTime implements plugin.Processor.
func (d *Dedupe) EventTime(r plugin.Record) (int64, error) {
	t, err := d.tf.Of(r.Value)
	if err != nil {
		return 0, plugin.Permanent(err)
	}
	return t, nil
}

// Process passes r on when its identity is new.
func (d *Dedupe) Process(st plugin.State, r plugin.Record) error {
	k, err := d.key.key(r.Value)
	if err != nil {
		return plugin.Permanent(err)
	}
	if v, seen := st.Get(k); seen {
		if !d.expired(st, v) {
			return nil
		}
		// Forgotten already, though its timer fires only after the
		// batch: forget it now, as batches of one record would have.
		st.DeleteTimer(int64(binary.BigEndian.Uint64(v))+d.ttl, k)
	}
	t, _ := d.tf.Of(r.Value)
	st.Put(k, binary.BigEndian.AppendUint64(nil, uint64(t)))
	if d.ttl > 0 {
		st.SetTimer(t+d.ttl, k)
	}
	st.Emit(r.Value)
	return nil
}

// expired tells whether the identity first seen at v is forgotten: the
// partition's event time reached its first time + ttl_ms. A timer says the
// same, but fires only once the batch is processed; checking here makes
// the output the same however the input is batched.
func (d *Dedupe) expired(st plugin.State, v []byte) bool {
	return d.ttl > 0 && len(v) == 8 && st.Watermark() >= int64(binary.BigEndian.Uint64(v))+d.ttl
}

// OnTimer forgets an identity.
func (d *Dedupe) OnTimer(st plugin.State, _ int64, k []byte) error {
	st.Delete(k)
	return nil
}
