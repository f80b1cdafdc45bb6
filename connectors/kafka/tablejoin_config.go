package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
)

// TableJoinConfig is the config of a table.join stage.
type TableJoinConfig struct {
	Brokers     []string      `key:"brokers" required:"true" doc:"Kafka brokers of the table topic, comma-separated host:port"`
	ClientID    string        `key:"client_id" doc:"client.id sent to the brokers"`
	DialTimeout time.Duration `key:"dial_timeout_ms" unit:"ms" doc:"how long to wait for a broker connection"`
	Security
	TableTopic string   `key:"table_topic" required:"true" doc:"compacted topic holding the table: a message's key is the row's key, its value the row (JSON; a value that is not JSON is kept as a string), a tombstone deletes the row"`
	Key        string   `key:"key" required:"true" doc:"expression giving each record's table key (e.g. \"user_id\"): a string, or a number or boolean as its text; null, missing or another type finds no row; a plain field name reads the field as the kafka sink's key_field does (a number as written, a missing field's _base64 sibling decoded)"`
	Into       string   `key:"into" doc:"field the row is put under (e.g. \"user\"), replacing a field of that name; a record without a row gets null (mode = \"left\")"`
	Fields     []string `key:"fields" doc:"top-level fields of the row copied into the record, replacing fields of those names (e.g. [\"name\", \"tier\"]), instead of into; a field the row lacks, or a record without a row, gets null (mode = \"left\")"`
	Mode       string   `key:"mode" enum:"left,inner" doc:"left (default): a record without a row goes on (into or fields null); inner: it is dropped (counted as filtered)"`
	Scope      string   `key:"scope" enum:"global,partitioned" doc:"global (default): every instance reads the whole table; partitioned: an instance reads only the table partitions numbered like the stream partitions it gets (on each one's first record), which needs the table topic co-partitioned with the stream's kafka source topic (same partition count, checked at start; keyed by the join key with Java's murmur2, checked on each record)"`
	// LoadTimeout bounds the wait for the table (a partition of it, when
	// partitioned) to be read up to its end offset.
	LoadTimeout time.Duration `key:"load_timeout_ms" unit:"ms" min:"1" doc:"how long to wait for the table (partitioned: a partition of it) to be read up to the end offset it had at start before failing the run"`

	// streamTopic is the topic of the kafka source the stage reads from,
	// found by checkTableJoin; "" when there is none.
	streamTopic string
}

// DefaultTableJoinConfig returns table.join's defaults.
func DefaultTableJoinConfig() *TableJoinConfig {
	c := defaultClient()
	return &TableJoinConfig{ClientID: c.ClientID, DialTimeout: c.DialTimeout, Security: c.Security,
		Mode: "left", Scope: "global", LoadTimeout: 2 * time.Minute}
}

// The values of scope and mode.
const (
	ScopeGlobal      = "global"
	ScopePartitioned = "partitioned"
	ModeInner        = "inner"
)

// client is the connection part, as the source and sink take it.
func (c *TableJoinConfig) client() *ClientConfig {
	return &ClientConfig{Brokers: c.Brokers, ClientID: c.ClientID, Delivery: "batch", DialTimeout: c.DialTimeout, Security: c.Security}
}

// Validate checks the keys together.
func (c *TableJoinConfig) Validate() error {
	errs := []error{c.client().validate()}
	if strings.TrimSpace(c.TableTopic) == "" {
		errs = append(errs, config.Invalid("table_topic", "must not be empty"))
	}
	if _, err := expr.Compile(c.Key); err != nil {
		errs = append(errs, config.Invalid("key", "%v", err))
	}
	switch {
	case c.Into == "" && len(c.Fields) == 0:
		errs = append(errs, config.Invalid("into", "set into (the row under one field) or fields (some of its fields)"))
	case c.Into != "" && len(c.Fields) > 0:
		errs = append(errs, config.Invalid("fields", "set into or fields, not both"))
	}
	for i, f := range c.Fields {
		if f == "" || strings.ContainsAny(f, ".\"\\") {
			errs = append(errs, config.Invalid("fields", "%q is not a top-level field name", f))
		} else if slices.Index(c.Fields, f) < i {
			errs = append(errs, config.Invalid("fields", "%q twice", f))
		}
	}
	return errors.Join(errs...)
}

// checkTableJoin finds the kafka source the stage reads from, for the
// co-partitioning check of scope = "partitioned", which needs one.
func checkTableJoin(cfg any, st *config.Stage, p *config.Pipeline) error {
	c, ok := cfg.(*TableJoinConfig)
	if !ok {
		return nil
	}
	topics := sourceTopics(st, p, map[string]bool{})
	if len(topics) == 1 {
		c.streamTopic = topics[0]
	}
	if c.Scope != ScopePartitioned {
		return nil
	}
	switch len(topics) {
	case 0:
		return config.Invalid("scope", "%q needs a kafka source upstream, whose topic the table topic is co-partitioned with; use \"global\"", ScopePartitioned)
	case 1:
		return nil
	}
	return config.Invalid("scope", "%q needs one kafka source topic upstream, this stage reads %s; use \"global\"", ScopePartitioned, strings.Join(topics, ", "))
}

// sourceTopics lists the topics of the kafka sources st reads from,
// through any chain of stages; a source whose topic is not a plain string
// counts as "?".
func sourceTopics(st *config.Stage, p *config.Pipeline, seen map[string]bool) []string {
	var out []string
	for _, in := range st.Inputs {
		up := p.StageByID(in)
		if up == nil || seen[in] {
			continue
		}
		seen[in] = true
		if len(up.Inputs) > 0 {
			out = append(out, sourceTopics(up, p, seen)...)
			continue
		}
		if up.Function != "kafka" {
			continue
		}
		topic := fmt.Sprint(up.Config["topic"].V)
		if !slices.Contains(out, topic) {
			out = append(out, topic)
		}
	}
	return out
}
