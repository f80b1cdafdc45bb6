package kafka

import (
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// ClientConfig holds what both the source and the sink need to reach Kafka.
type ClientConfig struct {
	Brokers  []string `key:"brokers" required:"true" doc:"Kafka brokers, comma-separated host:port (e.g. \"localhost:9092\")"`
	ClientID string   `key:"client_id" doc:"client.id sent to the brokers"`
	// Delivery picks the data path: batches over sarama, or watermill-kafka's
	// one-message-at-a-time Publisher/Subscriber.
	Delivery string `key:"delivery" enum:"batch,per-message" doc:"batch (default) or per-message (stock watermill-kafka, slow; for compatibility)"`
	// DialTimeout bounds connecting to a broker.
	DialTimeout time.Duration `key:"dial_timeout_ms" unit:"ms" doc:"how long to wait for a broker connection"`
	Security
}

// Security configures TLS and SASL. The zero value is PLAINTEXT.
type Security struct {
	Protocol      string        `key:"security_protocol" enum:"PLAINTEXT,SSL,SASL_PLAINTEXT,SASL_SSL" doc:"PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"`
	Mechanism     string        `key:"sasl_mechanism" enum:"PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" doc:"SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"`
	Username      string        `key:"sasl_username" doc:"SASL user name"`
	Password      config.Secret `key:"sasl_password" secret:"true" doc:"SASL password; write \"${ENV_VAR}\" rather than the secret itself"`
	CAFile        string        `key:"tls_ca_file" doc:"PEM file of CA certificates that sign the brokers' certificates (default: system roots)"`
	CertFile      string        `key:"tls_cert_file" doc:"PEM client certificate, for mutual TLS"`
	KeyFile       string        `key:"tls_key_file" doc:"PEM client key, for mutual TLS"`
	SkipVerify    bool          `key:"tls_insecure_skip_verify" doc:"do not verify the brokers' certificates (testing only)"`
	TLSServerName string        `key:"tls_server_name" doc:"name to verify the brokers' certificates against (default: the host dialled)"`
}

func defaultClient() ClientConfig {
	return ClientConfig{ClientID: "conveyor", Delivery: "batch", DialTimeout: 10 * time.Second, Security: Security{Protocol: "PLAINTEXT"}}
}

// SourceConfig is the config of a kafka stage with no inputs.
//
// Beyond the largest batch_size and window (their max tags), a batch or a
// window no longer buys throughput, only memory (a batch is preallocated).
type SourceConfig struct {
	ClientConfig
	Topic string `key:"topic" required:"true" doc:"topic to consume"`
	// WaitForTopic is how long a source waits for a missing topic to be
	// created by someone else before failing.
	WaitForTopic time.Duration `key:"wait_for_topic_ms" unit:"ms" doc:"a source never creates its topic: a missing one fails the run (kafka.ErrTopicNotFound) after waiting this long for it to be created elsewhere (0 = at once)"`
	GroupID      string        `key:"group_id" required:"true" doc:"consumer group whose committed offsets record progress"`
	// GroupInstanceID makes the member static (Kafka's group.instance.id).
	GroupInstanceID string `key:"group_instance_id" doc:"static group membership (Kafka's group.instance.id): a run restarted with the same id takes its partitions back at once instead of waiting session_timeout_ms for the old member to expire; unique per running instance"`
	// MaxMessages bounds a run; 0 streams until stopped; negative means
	// "the default": see Limit.
	MaxMessages int64 `key:"max_messages" min:"0" why:"0 streams until stopped" doc:"stop after this many records, commit and exit; 0 = no count limit (streams until stopped, unless until is set); default 1000, or 0 with until = \"end\""`
	// Until = "end" bounds a run by the end offsets its partitions had
	// when they were assigned.
	Until string `key:"until" doc:"\"end\": stop, commit and exit once every partition is read up to the end offset it had when assigned (a run that catches up; max_messages then defaults to 0); \"\" (default): no such bound"`
	// Timeout bounds a run; negative means "the default": 30 s when
	// bounded, none when streaming.
	Timeout        time.Duration `key:"timeout_ms" unit:"ms" doc:"stop reading after this long (default 30000 for bounded runs, none when streaming; 0 = none)"`
	StartOffset    string        `key:"start_offset" enum:"earliest,latest" doc:"where a group with no committed offset starts"`
	BatchSize      int           `key:"batch_size" min:"1" max:"100000" doc:"records per batch (per partition)"`
	BatchLinger    time.Duration `key:"batch_linger_ms" unit:"ms" doc:"emit a partial batch after this long; lower = less latency, higher = fewer, larger batches"`
	Window         int           `key:"window" min:"1" max:"64" doc:"batches in flight per partition; at-least-once, a crash replays at most window × batch_size records per partition (exactly-once: the open transaction, never written twice)"`
	CommitInterval time.Duration `key:"commit_interval_ms" unit:"ms" doc:"0 commits acked offsets as soon as they are marked (coalesced, one commit in flight); more: at most once per interval"`
	DrainTimeout   time.Duration `key:"drain_timeout_ms" unit:"ms" min:"100" doc:"on stop, the longest wait for in-flight batches, the sinks' flush and the final commit together (the last quarter, at most 5 s, is kept for the flush and commit); on rebalance, how long to wait for in-flight batches before giving a partition up"`
	SessionTimeout time.Duration `key:"session_timeout_ms" unit:"ms" min:"6000" why:"the broker's group.min.session.timeout.ms" doc:"consumer group session timeout"`
	Rebalance      string        `key:"rebalance_strategy" enum:"range,roundrobin,sticky" doc:"partition assignment strategy (all eager)"`
	// FetchMaxBytes is Kafka's fetch.max.bytes, FetchPartitionBytes its
	// max.partition.fetch.bytes.
	FetchMaxBytes       int    `key:"fetch_max_bytes" min:"0" max:"1073741824" doc:"most bytes one fetch request brings from a broker, over all its partitions (Kafka's fetch.max.bytes; a larger first record is still fetched whole); 0 = an eighth of [global] max_inflight_mb, at least fetch_partition_bytes, so that many partitions stay within the run's memory budget"`
	FetchPartitionBytes int    `key:"fetch_partition_bytes" min:"0" max:"1073741824" doc:"most bytes one fetch request brings from one partition (Kafka's max.partition.fetch.bytes; a larger record is still fetched whole); 0 = 1 MiB"`
	IsolationLevel      string `key:"isolation_level" enum:"read_uncommitted,read_committed" doc:"read_committed skips aborted transactional records (always read_committed under [pipeline] guarantee = \"exactly-once\")"`
	// Invalid is what happens to a record whose value is not valid JSON
	// (see record.EnrichChecked): the spec's wrapping, the dead-letter
	// queue, or the end of the run.
	Invalid string `key:"invalid" enum:"wrap,dead_letter,fail" doc:"a record whose value is not valid JSON (invalid or truncated text; a valid array, number or string, an empty value and a tombstone are not invalid), or with value_format avro, protobuf or json_schema does not decode (its bytes then go as _kafka_payload_base64 with _kafka_schema_error): \"wrap\" (default) passes it on as {\"_kafka_payload\": \"<text>\", ...} as the spec says and warns at the end of the run; \"dead_letter\" sends its raw text to [error_handling.dead_letter_queue] (required) and passes the records around it on; \"fail\" stops the run naming topic/partition/offset, committing nothing from that record on; each counts in conveyor_invalid_records_total"`
	SourceSchema
}

// DefaultSourceConfig returns the source defaults.
func DefaultSourceConfig() *SourceConfig {
	return &SourceConfig{
		ClientConfig: defaultClient(),
		MaxMessages:  -1,
		Timeout:      -1,
		StartOffset:  "earliest",
		BatchSize:    1000,
		// 2 ms rather than 5: at 10k records/s over 6 partitions the two
		// lingers on the path (this one and the sink's linger_ms) were most
		// of the latency once commits no longer held up fetches; a batch that
		// fills up goes at once, so a backlog's batches are unchanged.
		BatchLinger:    2 * time.Millisecond,
		Window:         4,
		DrainTimeout:   10 * time.Second,
		SessionTimeout: 10 * time.Second,
		Rebalance:      "range",

		IsolationLevel: "read_uncommitted",
		Invalid:        InvalidWrap,
		SourceSchema:   SourceSchema{ValueFormat: FormatJSON},
	}
}

// The values of invalid.
const (
	InvalidWrap       = "wrap"
	InvalidDeadLetter = "dead_letter"
	InvalidFail       = "fail"
)

// UntilEnd is the until value that ends a run at the end offsets its
// partitions had when they were assigned.
const UntilEnd = "end"

// defaultMaxMessages is max_messages when it is not set, as in the spec.
const defaultMaxMessages = 1000

// Limit is the most records a run reads (max_messages); 0 means no count
// limit. Unset, it is 1000, or none with until = "end".
func (c *SourceConfig) Limit() int64 {
	switch {
	case c.MaxMessages >= 0:
		return c.MaxMessages
	case c.Until == UntilEnd:
		return 0
	}
	return defaultMaxMessages
}

// Deadline is how long a run reads; 0 means no limit.
func (c *SourceConfig) Deadline() time.Duration {
	switch {
	case c.Timeout >= 0:
		return c.Timeout
	case c.Limit() > 0, c.Until == UntilEnd:
		return 30 * time.Second
	}
	return 0
}

// Validate checks the source's keys together.
func (c *SourceConfig) Validate() error {
	errs := []error{c.ClientConfig.validate()}
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, config.Invalid("topic", "must not be empty"))
	}
	if strings.TrimSpace(c.GroupID) == "" {
		errs = append(errs, config.Invalid("group_id", "must not be empty"))
	}
	switch {
	case c.Until != "" && c.Until != UntilEnd:
		errs = append(errs, config.Invalid("until", "want \"end\" (stop once caught up with the end offsets seen when the partitions were assigned) or \"\" (no such bound), got %q", c.Until))
	case c.Until == UntilEnd && c.Delivery == "per-message":
		errs = append(errs, config.Invalid("until", "needs delivery = \"batch\": the per-message source does not track end offsets"))
	}
	errs = append(errs, c.SourceSchema.validate(c.Delivery)...)
	return errors.Join(errs...)
}

// SinkConfig is the config of a kafka stage with inputs.
type SinkConfig struct {
	ClientConfig
	Topic string `key:"topic" doc:"topic to produce to; required unless topic_expr chooses it per record"`
	// CreateTopic makes the sink create its topic when it is missing,
	// rather than leave it to the broker's auto.create.topics.enable.
	CreateTopic       bool          `key:"create_topic" doc:"create the topic at start when it does not exist (with partitions and replication_factor), or with topic_expr each topic on first use; false (default): a missing topic fails the run at start (kafka.ErrTopicNotFound), whatever the broker's auto.create.topics.enable"`
	Partitions        int           `key:"partitions" min:"0" max:"1000000" doc:"partitions of a topic create_topic creates (0 = the broker's num.partitions)"`
	ReplicationFactor int           `key:"replication_factor" min:"0" max:"32767" doc:"replication factor of a topic create_topic creates (0 = the broker's default.replication.factor)"`
	KeyField          string        `key:"key_field" doc:"record field whose value (string, number or boolean, as text) becomes the message key; when it is missing, the field named key_field + \"_base64\" (how the source writes a key that is not UTF-8), decoded; records with neither are sent unkeyed"`
	Linger            time.Duration `key:"linger_ms" unit:"ms" doc:"how long the producer waits to fill a request (Kafka's linger.ms)"`
	Compression       string        `key:"compression" enum:"none,gzip,snappy,lz4,zstd" doc:"compression codec"`
	MaxMessageBytes   int           `key:"max_message_bytes" min:"1" max:"1073741824" doc:"largest record the producer sends, counting key, value, headers and up to 36 bytes of record overhead; larger records fail, and are not retried"`
	FlushMessages     int           `key:"flush_max_messages" min:"0" max:"1048576" doc:"most records in one produce request per partition (0 = no limit)"`
	Retries           int           `key:"retries" min:"0" doc:"times the producer retries a failed send before the write fails (with the default backoff, 60 retries ride out about a minute of broker outage)"`
	RetryBackoff      time.Duration `key:"retry_backoff_ms" unit:"ms" doc:"wait before the first retry of a failed send; doubles on each retry"`
	RetryBackoffMax   time.Duration `key:"retry_backoff_max_ms" unit:"ms" doc:"longest wait between retries of a failed send"`
	Idempotent        bool          `key:"idempotent" doc:"idempotent producer (no duplicates from producer retries); needs acks=all. Either way one request is in flight per broker, so retries never reorder a partition's records"`
	BufferSize        int           `key:"buffer_size" min:"1" max:"1048576" doc:"records queued in the producer before a write blocks"`
	Tombstones        bool          `key:"tombstones" doc:"send a record whose top-level _kafka_payload is null (what the kafka source makes of a tombstone) as a tombstone: a null value keyed by key_field (required); off: sent as JSON like any record"`
	MessageConfig
	SinkSchema
}

// MessageConfig holds the sink's keys that shape each message beyond the
// fixed topic and key field: the topic, key and partition by expression
// (internal/expr), headers, timestamp, and what of the record the value
// keeps.
type MessageConfig struct {
	TopicExpr      string            `key:"topic_expr" doc:"expression giving each record's topic, instead of topic (e.g. \"'orders-' + lower(country)\"); a value that is not a valid topic name, a topic that does not exist, or one topic more than max_topics fails that record under [error_handling], naming the value"`
	MaxTopics      int               `key:"max_topics" min:"1" max:"100000" doc:"with topic_expr, the most distinct topics one run writes"`
	KeyExpr        string            `key:"key_expr" doc:"expression giving each record's key, instead of key_field (e.g. \"user_id + ':' + country\"): a string, or a number or boolean as its text; null or a missing field: unkeyed"`
	PartitionExpr  string            `key:"partition_expr" doc:"expression giving each record's partition number, ahead of the key and partitioner (e.g. \"_kafka_partition\"); null or a missing field: partitioned as without it; a number the topic has no partition for fails the record"`
	HeadersField   string            `key:"headers_field" doc:"record field holding the message's headers as the kafka source writes them (names to a string, null, {\"base64\": \"...\"}, or an array of those for a repeated name); sent as the headers, and left out of the value; \"\": no headers from the record"`
	Headers        map[string]string `key:"headers" doc:"headers added to every message (e.g. { source = \"conveyor\" }); a name the record's own headers (headers_field) have is not added: the record's win"`
	TimestampField string            `key:"timestamp_field" doc:"record field holding the message's timestamp, as epoch milliseconds or RFC 3339 text; a record without it (or with 0) gets the produce time, as does every record with \"\"; another value fails the record"`
	Metadata       string            `key:"metadata" enum:"keep,drop" doc:"keep: the value is the record as it is (without headers_field); drop: the value also leaves out every top-level _kafka_* field (they still give the key, headers and timestamp)"`
	Partitioner    string            `key:"partitioner" enum:"murmur2,round_robin,sticky" doc:"a keyed message goes to Java's murmur2 partition of its key (as a Java producer puts it); one without a key goes to a random partition (murmur2), the next one in turn (round_robin), or where the previous keyless messages went until 16 KiB went there (sticky, Java's way for keyless records)"`
}

// DefaultSinkConfig returns the sink defaults.
func DefaultSinkConfig() *SinkConfig {
	return &SinkConfig{
		ClientConfig: defaultClient(),
		MessageConfig: MessageConfig{MaxTopics: 100, HeadersField: record.HeadersField, TimestampField: record.TimestampField,
			Metadata: "keep", Partitioner: "murmur2"},
		// 2 ms rather than 5, for latency (see BatchLinger); under load a
		// request goes as soon as 1 MB is buffered.
		Linger:          2 * time.Millisecond,
		Compression:     "none",
		MaxMessageBytes: 1000000,
		Retries:         60,
		RetryBackoff:    100 * time.Millisecond,
		RetryBackoffMax: time.Second,
		Idempotent:      true,
		BufferSize:      4096,
		SinkSchema:      SinkSchema{ValueFormat: FormatJSON, SubjectStrategy: "topic_name"},
	}
}

// Validate checks the sink's keys together.
func (c *SinkConfig) Validate() error {
	errs := []error{c.ClientConfig.validate()}
	switch {
	case c.TopicExpr != "" && c.Topic != "":
		errs = append(errs, config.Invalid("topic_expr", "set topic or topic_expr, not both"))
	case c.TopicExpr == "" && strings.TrimSpace(c.Topic) == "":
		errs = append(errs, config.Invalid("topic", "missing: set topic, or topic_expr to choose it per record"))
	}
	if c.KeyExpr != "" && c.KeyField != "" {
		errs = append(errs, config.Invalid("key_expr", "set key_field or key_expr, not both"))
	}
	_, _, _, err := c.compileExprs()
	errs = append(errs, err, c.validateRetries())
	if !c.CreateTopic && (c.Partitions != 0 || c.ReplicationFactor != 0) {
		errs = append(errs, config.Invalid("partitions", "partitions and replication_factor apply only to a topic the sink creates: set create_topic = true, or remove them"))
	}
	if c.Tombstones && c.KeyField == "" && c.KeyExpr == "" {
		errs = append(errs, config.Invalid("tombstones", "needs key_field or key_expr: a tombstone without a key deletes nothing"))
	}
	if !isJSON(c.KeyFormat) && c.KeyField == "" {
		errs = append(errs, config.Invalid("key_format", "%q needs key_field: the field whose JSON value is the key (key_expr gives text)", c.KeyFormat))
	}
	errs = append(errs, c.SinkSchema.validate(c.Delivery)...)
	return errors.Join(errs...)
}

// tombstone reports whether the sink sends rec as a tombstone (a null
// value): with tombstones = true, a record whose top-level _kafka_payload is
// null, as the kafka source writes a tombstone.
func (c *SinkConfig) tombstone(rec []byte) bool {
	return c.Tombstones && record.IsTombstone(rec)

}

// Warnings names, by key, what works but is unsafe in the connection
// settings, for validate and the start of a run: SASL PLAIN over
// SASL_PLAINTEXT sends the password in clear.
func (c *ClientConfig) Warnings() map[string]string {
	if c.Protocol == "SASL_PLAINTEXT" && c.Mechanism == "PLAIN" {
		return map[string]string{"sasl_mechanism": "SASL PLAIN over security_protocol = SASL_PLAINTEXT sends the password over the network in clear: use SASL_SSL, or SCRAM-SHA-256/512"}
	}
	return nil
}

// logWarnings logs Warnings as a stage starts.
func (c *ClientConfig) logWarnings(log *zap.Logger) {
	for key, msg := range c.Warnings() {
		log.Warn(msg, zap.String("key", key))
	}
}

func (c *ClientConfig) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, config.Invalid("brokers", "must name at least one broker"))
	}
	for _, b := range c.Brokers {
		if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
			errs = append(errs, config.Invalid("brokers", "%q is not host:port", b))
		}
	}
	errs = append(errs, c.Security.validate())
	return errors.Join(errs...)
}

func (s *Security) validate() error {
	var errs []error
	sasl := strings.HasPrefix(s.Protocol, "SASL")
	tls := strings.HasSuffix(s.Protocol, "SSL")
	if sasl && s.Mechanism == "" {
		errs = append(errs, config.Invalid("sasl_mechanism", "required with security_protocol = %s (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Protocol))
	}
	if sasl && (s.Username == "" || s.Password == "") {
		errs = append(errs, config.Invalid("sasl_username", "sasl_username and sasl_password are required with security_protocol = %s", s.Protocol))
	}
	if !sasl && (s.Mechanism != "" || s.Username != "" || s.Password != "") {
		errs = append(errs, config.Invalid("security_protocol", "SASL keys are set but security_protocol is %s (want SASL_PLAINTEXT or SASL_SSL)", s.Protocol))
	}
	if !tls && (s.CAFile != "" || s.CertFile != "" || s.KeyFile != "" || s.SkipVerify) {
		errs = append(errs, config.Invalid("security_protocol", "TLS keys are set but security_protocol is %s (want SSL or SASL_SSL)", s.Protocol))
	}
	switch {
	case s.CertFile != "" && s.KeyFile == "":
		errs = append(errs, config.Invalid("tls_cert_file", "needs tls_key_file too: the client certificate and its key go together"))
	case s.CertFile == "" && s.KeyFile != "":
		errs = append(errs, config.Invalid("tls_key_file", "needs tls_cert_file too: the client certificate and its key go together"))
	}
	return errors.Join(errs...)
}
