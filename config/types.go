package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Pipeline is one parsed pipeline file.
type Pipeline struct {
	// File is the path the pipeline was read from ("" when parsed from bytes
	// without a name).
	File string

	Pipeline      Meta
	Global        Global
	Stages        []Stage
	ErrorHandling ErrorHandling
}

// Meta is the [pipeline] table.
//
// The tables [pipeline], [global] and [error_handling] are decoded from
// their fields' tags, as stage configs are (see [DecodeStage]): a key is
// one tagged field, and `conveyor info global` documents it from the tags.
type Meta struct {
	Name        string `key:"name" doc:"the pipeline's name, shown in logs and the run summary"`
	Version     string `key:"version" doc:"the pipeline's version, free text"`
	Description string `key:"description" doc:"what the pipeline does, free text"`
	Delivery
}

// Delivery is the delivery guarantee of [pipeline] and its transaction
// settings (see the README's "Exactly-once").
type Delivery struct {
	// Guarantee is GuaranteeAtLeastOnce ("" means it) or GuaranteeExactlyOnce.
	Guarantee string `key:"guarantee" enum:"at-least-once,exactly-once" empty:"default" doc:"at-least-once (default): a crash replays the batches in flight; exactly-once: Kafka to Kafka only, every record read is written and its offset committed in one Kafka transaction, so consumers reading with isolation_level = read_committed see each record once (needs every source and sink, the dead-letter queue included, to be kafka on one cluster, and group_instance_id on the sources; a stateful stage is refused: its changelog writes do not join the transaction yet)"`
	// TransactionalID prefixes the instance identity (the sources'
	// group_instance_id) in the producer's transactional.id.
	TransactionalID string `key:"transactional_id" doc:"with exactly-once, the prefix of the producer's transactional.id, which is this prefix, \"-\" and the sources' group_instance_id (so a restarted instance fences its old self); default \"conveyor-\" + name"`
	// TransactionRecords and TransactionMs close a transaction.
	TransactionRecords int           `key:"transaction_records" min:"1" max:"10000000" doc:"with exactly-once, a transaction is committed once it holds this many records read"`
	TransactionMs      time.Duration `key:"transaction_ms" unit:"ms" min:"1" doc:"with exactly-once, a transaction is committed at most this long after it began: records reach read_committed consumers only then, so it bounds their latency from below"`
	// GuaranteePos is where guarantee was written (zero when not).
	GuaranteePos Pos
}

// The values of guarantee.
const (
	GuaranteeAtLeastOnce = "at-least-once"
	GuaranteeExactlyOnce = "exactly-once"
)

// DefaultMeta is what an absent [pipeline] table means.
func DefaultMeta() Meta {
	return Meta{Delivery: Delivery{Guarantee: GuaranteeAtLeastOnce, TransactionRecords: DefaultTransactionRecords, TransactionMs: DefaultTransactionMs}}
}

// DefaultTransactionRecords and DefaultTransactionMs are transaction_records
// and transaction_ms when they are not set.
const (
	DefaultTransactionRecords = 5000
	DefaultTransactionMs      = 100 * time.Millisecond
)

// ExactlyOnce reports guarantee = "exactly-once".
func (d Delivery) ExactlyOnce() bool { return d.Guarantee == GuaranteeExactlyOnce }

// Records is transaction_records, DefaultTransactionRecords when unset.
func (d Delivery) Records() int {
	if d.TransactionRecords <= 0 {
		return DefaultTransactionRecords
	}
	return d.TransactionRecords
}

// Interval is transaction_ms, DefaultTransactionMs when unset.
func (d Delivery) Interval() time.Duration {
	if d.TransactionMs <= 0 {
		return DefaultTransactionMs
	}
	return d.TransactionMs
}

// TxnID is the producer's transactional.id for an instance identity
// (the sources' group_instance_id) in pipeline name.
func (d Delivery) TxnID(name, instance string) string {
	prefix := d.TransactionalID
	if prefix == "" {
		prefix = "conveyor-" + name
	}
	return prefix + "-" + instance
}

// Global is the [global] table.
type Global struct {
	// Plugins lists the plugins the pipeline needs; each must be known to the
	// registry that runs it.
	Plugins    []string `key:"plugins" doc:"plugins the pipeline needs; each must be known to the registry that runs it (conveyor list)"`
	PluginsPos Pos
	// LogLevel is debug, info, warn or error ("" means info).
	LogLevel string `key:"log_level" enum:"debug,info,warn,error" lower:"true" empty:"default" doc:"debug, info, warn or error (default info; run's --log-level wins)"`
	// Variables are substituted for {{name}} in string values.
	Variables map[string]string `key:"variables" doc:"values for {{name}} in every string of the pipeline; ${VAR} is expanded in them, {{name}} is not"`
	// MaxInflightMB bounds the MiB of records a run holds in flight across
	// its sources (max_inflight_mb; 0 means DefaultMaxInflightMB).
	MaxInflightMB int `key:"max_inflight_mb" unit:"MiB" min:"1" max:"1048576" doc:"MiB of records all batches in flight hold between them, over every source and partition; a source that would go over waits"`
	// HTTPAddr is where a run serves /metrics, /healthz and /readyz;
	// "" serves nothing (the default; `conveyor run --http-addr` overrides).
	HTTPAddr string `key:"http_addr" doc:"host:port to serve /metrics, /healthz and /readyz on while the pipeline runs (e.g. \"127.0.0.1:9464\"); empty (default): no HTTP server"`
	// StallTimeout is how long a partition with records to read may make
	// no progress before /readyz answers 503 (0 means DefaultStallTimeout).
	StallTimeout time.Duration `key:"stall_timeout_ms" unit:"ms" min:"1" doc:"/readyz answers 503 when a partition with records to read makes no progress for this long"`
	// StateDir is where stateful stages keep their stores on disk; "" keeps
	// them in memory.
	StateDir string `key:"state_dir" doc:"directory where every stateful stage below a Kafka source keeps its per-partition store on disk (Pebble), under <changelog topic>/<partition> (a relative path starts at the pipeline file's directory), checkpointed with the changelog offset it holds, so a restart restores only what the changelog got since; empty (default): in memory, restored from the whole changelog"`
}

// DefaultGlobal is what an absent [global] table means.
func DefaultGlobal() Global {
	return Global{MaxInflightMB: DefaultMaxInflightMB, StallTimeout: DefaultStallTimeout}
}

// DefaultStallTimeout is stall_timeout_ms when it is not set: longer than
// a broker restart or a sink's default retries take, so that a readiness
// probe does not flap on a hiccup, short enough to catch a stuck consumer
// within a minute.
const DefaultStallTimeout = 60 * time.Second

// DefaultMaxInflightMB is the in-flight budget when max_inflight_mb is not
// set: far above what the default batches need for a few partitions, low
// enough to keep a run over hundreds of partitions within a few hundred MB.
const DefaultMaxInflightMB = 64

// Stage is one [[stages]] entry.
type Stage struct {
	// Index is the stage's position in the file, from 0.
	Index    int
	ID       string
	Function string
	Inputs   []string
	// Config holds [stages.config] as parsed, keys as written.
	Config map[string]Value
	// Pos is where the stage's [[stages]] header is; FunctionPos and InputsPos
	// where those keys are (zero when absent).
	Pos, FunctionPos, InputsPos Pos

	loc *locator // where the elements of Config are; nil when built in code
}

// Value is one config value with the place it was written. V is a string,
// int64, float64, bool, time.Time, []any or map[string]any.
type Value struct {
	V   any
	Pos Pos

	// reported: a reference in V could not be expanded, and Parse reported
	// it ([BadReference]); decoding keeps the key's default.
	reported bool
	// decoded: the caller decoded the value itself (DecodeDocument's
	// nested tables); decoding counts the key as present and leaves it.
	decoded bool
}

// Pos is a place in a pipeline file. Line and Col start at 1; a zero Pos
// means the value did not come from a file (built in code, or a default).
type Pos struct {
	File      string
	Line, Col int
}

// String renders "file:line:col", leaving out what is unknown.
func (p Pos) String() string {
	file := p.File
	if file == "" {
		file = "pipeline"
	}
	if p.Line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Col)
}

// Strategy is what happens to a record an operator or sink fails on.
type Strategy string

// The strategies of [error_handling].
const (
	// Stop ends the pipeline with the error; nothing past the failed record
	// is committed.
	Stop Strategy = "stop"
	// Continue skips the record, counts it and sends it to the dead-letter
	// queue when one is configured.
	Continue Strategy = "continue"
	// Retry tries again MaxRetries times, waiting RetryDelay (doubled each
	// time when Backoff is "exponential"), then falls back to Continue when a
	// dead-letter queue is configured and to Stop otherwise.
	Retry Strategy = "retry"
)

// ErrorHandling is the [error_handling] table.
type ErrorHandling struct {
	// Strategy defaults to Stop.
	Strategy Strategy `key:"strategy" enum:"stop,continue,retry" lower:"true" empty:"default" doc:"what happens to a record an operator or sink fails on: stop the run, continue without it (to the dead-letter queue when there is one), or retry it"`
	// MaxRetries defaults to 3.
	MaxRetries int `key:"max_retries" min:"0" doc:"tries after the first, with strategy = retry"`
	// RetryDelay defaults to 1s (retry_delay_seconds; fractions allowed).
	RetryDelay time.Duration `key:"retry_delay_seconds" unit:"s" numeric:"true" doc:"wait before a retry; fractions allowed"`
	// Backoff is "fixed" (default) or "exponential" (doubling, with ±20%
	// jitter, capped at 30 times RetryDelay).
	Backoff string `key:"backoff" enum:"fixed,exponential" lower:"true" empty:"default" doc:"fixed, or exponential: the wait doubles each retry, with ±20% jitter, up to 30 times retry_delay_seconds"`
	// DeadLetterQueue receives records that are given up on; nil when none.
	DeadLetterQueue *DeadLetter `key:"dead_letter_queue" doc:"where records given up on go: a JSON Lines file (\"dead.jsonl\" or { path = \"dead.jsonl\" }), or { topic = \"dlq\" } with any kafka sink key"`
}

// DeadLetter says where failed records go: a JSON Lines file (Path) or a
// Kafka topic (Topic), written by the kafka function's sink.
//
// For a topic, Config holds the table's keys as written (topic included):
// any key of a kafka sink (brokers, security_protocol, sasl_*, tls_*,
// client_id, max_message_bytes, ...), checked when the pipeline is compiled. Without brokers among them, the topic is on the
// cluster of the pipeline's first kafka sink (in file order), or of its
// first kafka source when it has no kafka sink: the dead-letter queue
// inherits that stage's connection keys (brokers, client_id, delivery,
// dial_timeout_ms, security_protocol, sasl_*, tls_*), and its own keys
// override them one by one. With brokers set, it inherits nothing: it is
// configured by its own keys alone. One dead-letter queue serves every
// stage of the pipeline.
type DeadLetter struct {
	Path   string
	Topic  string
	Config map[string]Value
	Pos    Pos
}

// DefaultErrorHandling is what an absent [error_handling] table means.
func DefaultErrorHandling() ErrorHandling {
	return ErrorHandling{Strategy: Stop, MaxRetries: 3, RetryDelay: time.Second, Backoff: "fixed"}
}

// StageByID returns the stage with that id, or nil.
func (p *Pipeline) StageByID(id string) *Stage {
	for i := range p.Stages {
		if p.Stages[i].ID == id {
			return &p.Stages[i]
		}
	}
	return nil
}

// ResolvePath resolves a file path written in the pipeline: relative paths
// are taken from the directory of the pipeline file (as docker-compose
// does), so a pipeline runs the same from any working directory. Pipelines
// parsed from bytes or built in code resolve against the working directory.
func (p *Pipeline) ResolvePath(path string) string {
	if p == nil || p.File == "" || filepath.IsAbs(path) || path == "" {
		return path
	}
	if fi, err := os.Stat(p.File); err != nil || fi.IsDir() {
		return path
	}
	return filepath.Join(filepath.Dir(p.File), path)
}

// Dir is the directory of the pipeline's file, where relative paths in it
// start; empty when the pipeline was not read from a file.
func (p *Pipeline) Dir() string {
	if p == nil || p.File == "" {
		return ""
	}
	if fi, err := os.Stat(p.File); err != nil || fi.IsDir() {
		return ""
	}
	return filepath.Dir(p.File)
}
