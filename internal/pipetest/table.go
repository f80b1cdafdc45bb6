package pipetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/plugin"
)

// tableJoin is the function whose table a case gives as rows.
const tableJoin = "table.join"

// TableRow is one message of a table.join stage's table topic, given by
// the test instead of read from a broker.
type TableRow struct {
	Stage string `key:"stage" doc:"the table.join stage whose table holds the row (default: the pipeline's only table.join)"`
	// Key is the row's key, the table topic message's key.
	Key       string `key:"key" required:"true" doc:"the row's key (the table topic message's key), which a record's key expression must give to find the row"`
	Value     any    `key:"value" doc:"the row: a table (a JSON object) or a string (the message's bytes; text that is not JSON is kept as a JSON string, as the join keeps it)"`
	Tombstone bool   `key:"tombstone" doc:"a message without a value: deletes the row of key given earlier"`
	Pos       config.Pos
	KeyPos    map[string]config.Pos

	value []byte // nil: a tombstone
}

// Validate checks the row's value and keeps its bytes.
func (r *TableRow) Validate() error {
	switch v := r.Value.(type) {
	case nil:
		if !r.Tombstone {
			return config.Invalid("value", "missing: give the row (a table or a string), or tombstone = true")
		}
	case string:
		r.value = []byte(v)
	case map[string]any:
		r.value, _ = json.Marshal(v)
	default:
		return config.Invalid("value", "want a table (a JSON object) or a string, got %s", config.TypeName(v))
	}
	if r.Tombstone && r.Value != nil {
		return config.Invalid("tombstone", "a tombstone has no value: leave value out")
	}
	return nil
}

// buildTableJoin builds a table.join stage over the case's rows for it,
// in order, on the case's partitions: the join reads no broker, and its
// table is loaded before the first record.
func (w *world) buildTableJoin(_ context.Context, cfg any, env plugin.Env) (plugin.Operator, error) {
	c, ok := cfg.(*kafka.TableJoinConfig)
	if !ok {
		return nil, errors.New("table.join: unexpected config type")
	}
	var rows []kafka.TableRow
	for _, r := range w.tables[env.Stage.ID] {
		rows = append(rows, kafka.TableRow{Key: []byte(r.Key), Value: r.value})
	}
	return kafka.NewTableJoinFromRows(c, env.Stage.ID, int(w.partitions), rows)
}

// resolveTables fills in the stage of every table row that leaves it out
// and reports those that name no table.join stage.
func (c *Case) resolveTables(i int, st stages, pipeline string) []error {
	var joins []string
	for _, id := range st.all {
		if st.function[id] == tableJoin {
			joins = append(joins, id)
		}
	}
	var errs []error
	for j := range c.Table {
		r := &c.Table[j]
		key := fmt.Sprintf("tests[%d].table[%d].stage", i, j)
		bad := func(format string, args ...any) {
			errs = append(errs, &config.Error{Kind: config.BadValue, Pos: at(r.Pos, r.KeyPos, "stage"), Stage: -1, Key: key, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case r.Stage == "" && len(joins) == 1:
			r.Stage = joins[0]
		case r.Stage == "" && len(joins) == 0:
			bad("%s has no table.join stage: a table row has no table to go to", pipeline)
		case r.Stage == "":
			bad("the pipeline has %d table.join stages (%v): say which with stage = \"...\"", len(joins), joins)
		case st.function[r.Stage] != tableJoin:
			bad("%q is not a table.join stage of %s (table.join stages: %v)%s", r.Stage, pipeline, joins, closest(r.Stage, joins))
		}
	}
	return errs
}
