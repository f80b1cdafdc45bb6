package sql

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/config"
)

// ConnConfig holds what both functions need to reach a table.
type ConnConfig struct {
	DSN              config.Secret `key:"dsn" required:"true" secret:"true" doc:"PostgreSQL connection string (postgres://user:password@host:port/db?sslmode=disable, or key=value form); write \"${ENV_VAR}\" rather than a password"`
	Topic            string        `key:"topic" required:"true" doc:"watermill-sql topic: the rows live in the table watermill_<topic> (letters, digits, - _ . : $)"`
	PayloadType      string        `key:"payload_type" enum:"JSON,JSONB,BYTEA" doc:"type of the payload column when the table is created: JSON, JSONB, or BYTEA (payloads that need not be JSON; the source wraps those)"`
	InitializeSchema bool          `key:"initialize_schema" doc:"create the table (and the source's offsets table) when missing"`
	DialTimeout      time.Duration `key:"dial_timeout_ms" unit:"ms" doc:"how long to wait for the first connection"`
}

// OutboxConfig is the config of "sql.outbox".
type OutboxConfig struct {
	ConnConfig
	ConsumerGroup string        `key:"consumer_group" doc:"watermill-sql consumer group whose offset (in watermill_offsets_<topic>) records progress; runs with the same group continue where the last stopped"`
	BatchSize     int           `key:"batch_size" doc:"rows read per query; their offset is stored once all of them are acked, in the query's transaction (watermill-sql hands the rows over one at a time, each after the last was acked, so a crash replays at most this many)"`
	PollInterval  time.Duration `key:"poll_interval_ms" unit:"ms" doc:"wait before querying again when no row was found"`
	AckDeadline   time.Duration `key:"ack_deadline_ms" unit:"ms" doc:"a row whose batch is not acked within this long is read again (0 = wait forever, which holds back the reads of other outbox readers)"`
	MaxMessages   int64         `key:"max_messages" doc:"stop after this many rows and exit; 0 streams until stopped"`
}

// WriteConfig is the config of "sql.write".
type WriteConfig struct {
	ConnConfig
	// MaxRowsPerInsert bounds one INSERT statement (PostgreSQL takes at
	// most 65535 parameters, three per row).
	MaxRowsPerInsert int `key:"max_rows_per_insert" doc:"most rows in one INSERT statement; a larger write is split into several (1 to 20000)"`
}

// The defaults, in one place.
func defaultConn() ConnConfig {
	return ConnConfig{PayloadType: "JSON", InitializeSchema: true, DialTimeout: 10 * time.Second}
}

// DefaultOutboxConfig returns the sql.outbox defaults. PollInterval is
// 100 ms rather than watermill-sql's 1 s: an idle outbox costs ten small
// queries a second, and a row written to an idle outbox waits at most that
// long.
func DefaultOutboxConfig() *OutboxConfig {
	return &OutboxConfig{ConnConfig: defaultConn(), ConsumerGroup: "conveyor", BatchSize: 100,
		PollInterval: 100 * time.Millisecond, AckDeadline: 30 * time.Second}
}

// DefaultWriteConfig returns the sql.write defaults.
func DefaultWriteConfig() *WriteConfig {
	return &WriteConfig{ConnConfig: defaultConn(), MaxRowsPerInsert: 5000}
}

// topicChars is what watermill-sql refuses in a topic name.
var topicChars = regexp.MustCompile(`[^A-Za-z0-9\-\$\:\.\_]`)

func (c *ConnConfig) validate() error {
	var errs []error
	if strings.TrimSpace(string(c.DSN)) == "" {
		errs = append(errs, config.Invalid("dsn", "must not be empty"))
	}
	switch {
	case c.Topic == "":
		errs = append(errs, config.Invalid("topic", "must not be empty"))
	case topicChars.MatchString(c.Topic):
		errs = append(errs, config.Invalid("topic", "%q: only letters, digits and - _ . : $ may be used (it names the table watermill_<topic>)", c.Topic))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, config.Invalid("dial_timeout_ms", "must be > 0"))
	}
	return errors.Join(errs...)
}

// Validate checks the keys together.
func (c *OutboxConfig) Validate() error {
	errs := []error{c.ConnConfig.validate()}
	if strings.TrimSpace(c.ConsumerGroup) == "" {
		errs = append(errs, config.Invalid("consumer_group", "must not be empty"))
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		errs = append(errs, config.Invalid("batch_size", "must be between 1 and 10000, got %d", c.BatchSize))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, config.Invalid("poll_interval_ms", "must be > 0"))
	}
	if c.AckDeadline < 0 {
		errs = append(errs, config.Invalid("ack_deadline_ms", "must be >= 0"))
	}
	if c.MaxMessages < 0 {
		errs = append(errs, config.Invalid("max_messages", "must be >= 0 (0 streams until stopped)"))
	}
	return errors.Join(errs...)
}

// Validate checks the keys together.
func (c *WriteConfig) Validate() error {
	errs := []error{c.ConnConfig.validate()}
	if c.MaxRowsPerInsert < 1 || c.MaxRowsPerInsert > 20000 {
		errs = append(errs, config.Invalid("max_rows_per_insert", "must be between 1 and 20000, got %d", c.MaxRowsPerInsert))
	}
	return errors.Join(errs...)
}
