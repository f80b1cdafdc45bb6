package operators

import (
	"time"

	"github.com/conveyor-etl/conveyor/internal/window"

	"github.com/conveyor-etl/conveyor/plugin"
)

// Repartition holds the keys that say whether a keyed stateful stage
// (window.aggregate, dedupe.apply) repartitions its input, and how the
// watermark behind the repartition treats an input partition that sends
// nothing. Embedded in their configs: the keys are the stage's own.
type Repartition struct {
	Mode        string        `key:"repartition" enum:"auto,never" doc:"auto: below a Kafka source, the records first go through the topic <group_id>-<stage id>-repartition (created with the source topic's partition count), keyed by the stage's key (group_by, key) with Java's murmur2, so that one key is processed by one lane whatever the input's Kafka key; never: the input is already partitioned by that key (its Kafka key is the key, as a sink with key_field writes it), no repartition. Without a Kafka source nothing is repartitioned"`
	IdleTimeout time.Duration `key:"idle_timeout_ms" unit:"ms" min:"0" doc:"behind a repartition, how long an input partition may send nothing (no record, no watermark) before it stops holding windows back; 0 (default): never, a window waits for every input partition to pass its end + grace_ms"`
}

func defaultRepartition() Repartition { return Repartition{Mode: plugin.RepartitionAuto} }

// options are the state runtime's options of a stage with these keys,
// its late key and its time_field key.
func (r Repartition) options(late, timeField string) plugin.StateOptions {
	return plugin.StateOptions{Late: late, Repartition: r.Mode, IdleTimeout: r.IdleTimeout.Milliseconds(),
		TimeField: window.NewTimeField(timeField).Name()}
}
