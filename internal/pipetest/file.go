package pipetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
)

// File is a test file: the pipeline under test and its cases.
type File struct {
	Pipeline string `key:"pipeline" required:"true" doc:"the pipeline file under test, relative to the test file"`
	// Partitions is how many partitions every Kafka topic of the test has.
	Partitions int               `key:"partitions" min:"1" max:"100000" doc:"partitions of every Kafka topic of the test (murmur2 places keyed records on them, as Java clients do)"`
	Env        map[string]string `key:"env" doc:"environment variables for the pipeline's ${VAR} references, over the process's own"`
	Tests      []Case            `key:"tests" required:"true" doc:"the cases, [[tests]]"`

	// Path is the test file's path, as given.
	Path string
}

// SetDefaults is the defaults of a test file.
func (f *File) SetDefaults() { f.Partitions = 1 }

// Case is one [[tests]] entry: records into the pipeline's sources and what
// must come out.
type Case struct {
	Name       string  `key:"name" required:"true" doc:"what the case checks, printed with its result"`
	Partitions int     `key:"partitions" min:"1" max:"100000" doc:"partitions of every topic in this case (default: the file's)"`
	Input      []Input `key:"input" doc:"records into a source, [[tests.input]], in order"`
	// Table is the rows of the table.join stages' tables.
	Table      []TableRow `key:"table" doc:"rows of a table.join stage's table, [[tests.table]], in order, read before the first record instead of its table topic (a case without rows gives the join an empty table; no broker is dialled)"`
	Output     []Expect   `key:"output" doc:"records a sink wrote, [[tests.output]], in the order of the inputs they came from"`
	DeadLetter []Expect   `key:"dead_letter" doc:"records given up on and sent to the dead-letter queue, [[tests.dead_letter]], in input order"`
	Counts     Counts     `key:"counts" doc:"the run's counts, [tests.counts]"`
	// Error is text the error that ends the run must contain.
	Error string `key:"error" doc:"text the error that stops the run must contain (with error_handling strategy = \"stop\"); without it the run must succeed"`
	// NoOutput lists sinks that must write nothing.
	NoOutput []string `key:"no_output" doc:"sink stages that must write nothing"`
	Pos      config.Pos
}

// SetDefaults leaves the counts unchecked, [tests.counts] or not.
func (c *Case) SetDefaults() { c.Counts.SetDefaults() }

// Input is one record into a source stage.
type Input struct {
	Stage string `key:"stage" doc:"the source stage (default: the pipeline's only source)"`
	// Value is a table (a JSON object) or a string (the message's bytes).
	Value     any  `key:"value" doc:"the record: a table (a JSON object) or a string (the message's bytes as they are, JSON or not)"`
	Tombstone bool `key:"tombstone" doc:"a Kafka message without a value"`
	Key       any  `key:"key" doc:"the Kafka message key, a string (default: none); with key_schema, the key in its JSON form"`
	Headers   any  `key:"headers" doc:"Kafka headers: a table of strings (a list of strings for a repeated name)"`
	Partition int  `key:"partition" min:"0" doc:"the partition (default: murmur2 of the key over the test's partitions, 0 without a key)"`
	Timestamp any  `key:"timestamp" doc:"the message timestamp: milliseconds since the epoch or a TOML date-time (default 2024-01-01T00:00:00Z)"`
	// Schema names the schema file an Avro, Protobuf or JSON Schema value
	// is written with (see inputSchemas).
	Schema string `key:"schema" doc:"schema file (.avsc Avro, .proto Protobuf, .json JSON Schema; from the test file's directory) of a source with value_format avro, protobuf or json_schema: the value, written as a table, must fit it, and goes in as a reader of it sees it (the schema's fields, defaults filled in, each in its JSON form; _kafka_schema_id 0)"`
	// KeySchema names the schema file of the key, for a source with a
	// registry's key_format (see inputSchemas).
	KeySchema string `key:"key_schema" doc:"schema file (.avsc, .proto, .json; from the test file's directory) of the key, needed by a keyed input of a source with key_format avro, protobuf or json_schema: key, written in its JSON form (a table for a record, a string, a number...), must fit it, and goes in as the source decodes it: _kafka_key the schema's JSON form of it, _kafka_key_schema_id 0 (the partition, unless given: murmur2 of that JSON text)"`
	Pos       config.Pos
	KeyPos    map[string]config.Pos

	// What validate made of the keys.
	value     []byte
	key       []byte
	keyed     bool
	keyJSON   []byte // the key as the source decodes it with key_schema
	headers   []header
	timestamp int64
}

// SetDefaults marks the partition unset.
func (in *Input) SetDefaults() { in.Partition = -1 }

// at is where key is written, else where the table is.
func at(table config.Pos, keys map[string]config.Pos, key string) config.Pos {
	if p, ok := keys[key]; ok {
		return p
	}
	return table
}

// kafkaKeys lists the keys given that only a Kafka message has.
func (in *Input) kafkaKeys() []string {
	return given(map[string]bool{"key": in.Key != nil, "headers": in.Headers != nil, "partition": in.Partition >= 0,
		"timestamp": in.Timestamp != nil, "tombstone": in.Tombstone, "key_schema": in.KeySchema != ""})
}

// given lists the names set true, sorted.
func given(keys map[string]bool) []string {
	var out []string
	for _, k := range sortedKeys(keys) {
		if keys[k] {
			out = append(out, k)
		}
	}
	return out
}

// defaultTimestamp is the timestamp of an input that gives none: fixed, so
// that expected records can hold it.
var defaultTimestamp = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// Expect is one record expected at a sink or in the dead-letter queue.
// Each key given is checked; those left out are not.
type Expect struct {
	Stage     string   `key:"stage" doc:"output: the sink stage (default: the pipeline's only sink); dead_letter: the stage that gave the record up"`
	Value     any      `key:"value" doc:"the whole record, compared as JSON"`
	Fields    any      `key:"fields" doc:"fields the record must hold with these values (\"a.b\" for a nested one), compared as JSON"`
	Absent    []string `key:"absent" doc:"fields the record must not have (a trailing * matches a prefix)"`
	Condition string   `key:"condition" doc:"an expression over the record's fields that must be true"`
	Key       any      `key:"key" doc:"the Kafka key the record was sent with (a string)"`
	NoKey     bool     `key:"no_key" doc:"the record was sent without a key"`
	Partition int      `key:"partition" min:"0" doc:"the partition the record was sent to"`
	Topic     string   `key:"topic" doc:"the topic the record was sent to"`
	Headers   any      `key:"headers" doc:"the Kafka headers the record was sent with, all of them: a table of strings"`
	Tombstone bool     `key:"tombstone" doc:"the record was sent as a tombstone (a null value)"`
	Timestamp any      `key:"timestamp" doc:"the Kafka timestamp the record was sent with: milliseconds since the epoch or a TOML date-time"`
	Error     string   `key:"error" doc:"dead_letter: text the record's error must contain"`
	Pos       config.Pos
	KeyPos    map[string]config.Pos

	value     any // Value, as decoded JSON
	fields    []fieldWant
	key       []byte
	headers   []header
	timestamp int64
}

// SetDefaults marks the partition unchecked.
func (e *Expect) SetDefaults() { e.Partition = -1 }

// kafkaKeys lists the keys given that only a Kafka message has.
func (e *Expect) kafkaKeys() []string {
	return given(map[string]bool{"key": e.Key != nil, "no_key": e.NoKey, "headers": e.Headers != nil, "partition": e.Partition >= 0,
		"timestamp": e.Timestamp != nil, "tombstone": e.Tombstone, "topic": e.Topic != ""})
}

// Counts are the run's totals that must hold; -1 (left out) is unchecked.
type Counts struct {
	In           int64 `key:"in" min:"0" doc:"records the sources read"`
	Out          int64 `key:"out" min:"0" doc:"records the sinks wrote (a record written by two sinks counts twice)"`
	Filtered     int64 `key:"filtered" min:"0" doc:"records operators dropped"`
	Failed       int64 `key:"failed" min:"0" doc:"records given up on (skipped, dead-lettered, or that stopped the run)"`
	DeadLettered int64 `key:"dead_lettered" min:"0" doc:"records written to the dead-letter queue"`
	Late         int64 `key:"late" min:"0" doc:"records stateful operators (window.aggregate) got after their window closed"`
}

// SetDefaults leaves every count unchecked.
func (c *Counts) SetDefaults() { *c = Counts{-1, -1, -1, -1, -1, -1} }

// header is one Kafka header.
type header struct{ Name, Value string }

// fieldWant is one entry of fields: a path and its value, as decoded JSON.
type fieldWant struct {
	path string
	want any
}

// Load reads and checks the test file at path. Errors name file:line:col
// and the key.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read test file: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a test file's text; path names it in errors and is where
// the pipeline's relative path starts.
func Parse(path string, data []byte) (*File, error) {
	f := &File{Path: path}
	if err := config.DecodeDocument(path, data, f); err != nil {
		return nil, err
	}
	f.prepare()
	if err := f.inputSchemas(); err != nil {
		return nil, err
	}
	return f, nil
}

// PipelinePath is the pipeline file's path, from the test file's directory.
func (f *File) PipelinePath() string {
	if filepath.IsAbs(f.Pipeline) {
		return f.Pipeline
	}
	return filepath.Join(filepath.Dir(f.Path), f.Pipeline)
}

// prepare gives each case the file's partitions unless it has its own.
func (f *File) prepare() {
	for i := range f.Tests {
		c := &f.Tests[i]
		if c.Partitions == 0 {
			c.Partitions = f.Partitions
		}
	}
}

// Validate checks the free-form keys (value, key, headers, timestamp) and
// keeps what they hold in the forms the run uses.
func (in *Input) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) { errs = append(errs, config.Invalid(key, format, args...)) }
	switch v := in.Value.(type) {
	case nil:
		if !in.Tombstone {
			fail("value", "missing: give the record (a table or a string), or tombstone = true")
		}
	case string:
		in.value = []byte(v)
	case map[string]any:
		in.value, _ = json.Marshal(v)
	default:
		fail("value", "want a table (a JSON object) or a string, got %s", config.TypeName(v))
	}
	if in.Tombstone && in.Value != nil {
		fail("tombstone", "a tombstone has no value: leave value out")
	}
	switch {
	case in.KeySchema != "" && in.Key == nil:
		fail("key_schema", "names the key's schema, but the input has no key")
	case in.KeySchema != "":
		in.key, _ = json.Marshal(in.Key) // its JSON form, which the schema reads (inputSchemas)
		in.keyed = true
	case in.Key != nil:
		s, ok := in.Key.(string)
		if !ok {
			fail("key", "want a string, got %s (a key in a schema's JSON form needs key_schema)", config.TypeName(in.Key))
		}
		in.key, in.keyed = []byte(s), true
	}
	var err error
	if in.headers, err = headersOf(in.Headers); err != nil {
		fail("headers", "%v", err)
	}
	in.timestamp = defaultTimestamp
	if in.Timestamp != nil {
		if in.timestamp, err = millis(in.Timestamp); err != nil {
			fail("timestamp", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// millis reads a timestamp: milliseconds since the epoch or a date-time.
func millis(v any) (int64, error) {
	switch t := v.(type) {
	case int64:
		return t, nil
	case time.Time:
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("want milliseconds since the epoch or a date-time with its offset (2024-05-01T12:00:00Z), got %s", config.TypeName(v))
}

// Validate checks the free-form keys (value, fields, key, headers) and
// keeps what they hold in the forms the checks use.
func (e *Expect) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) { errs = append(errs, config.Invalid(key, format, args...)) }
	if e.Value != nil {
		e.value = normalize(e.Value)
	}
	switch fs := e.Fields.(type) {
	case nil:
	case map[string]any:
		for _, p := range sortedKeys(fs) {
			e.fields = append(e.fields, fieldWant{path: p, want: normalize(fs[p])})
		}
	default:
		fail("fields", "want a table of field = value, got %s", config.TypeName(fs))
	}
	if e.Key != nil {
		s, ok := e.Key.(string)
		if !ok {
			fail("key", "want a string, got %s", config.TypeName(e.Key))
		}
		e.key = []byte(s)
	}
	if e.NoKey && e.Key != nil {
		fail("no_key", "set key or no_key, not both")
	}
	var err error
	if e.headers, err = headersOf(e.Headers); err != nil {
		fail("headers", "%v", err)
	}
	if e.Timestamp != nil {
		if e.timestamp, err = millis(e.Timestamp); err != nil {
			fail("timestamp", "%v", err)
		}
	}
	if e.Condition != "" {
		if _, err := expr.Compile(e.Condition); err != nil {
			fail("condition", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// headersOf reads a headers table: name = "value", or name = ["v1", "v2"]
// for a repeated name; names in order, values of a name in order.
func headersOf(v any) ([]header, error) {
	if v == nil {
		return nil, nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want a table of strings, got %s", config.TypeName(v))
	}
	out := []header{}
	for _, name := range sortedKeys(t) {
		switch x := t[name].(type) {
		case string:
			out = append(out, header{name, x})
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: want strings, got %s", name, config.TypeName(e))
				}
				out = append(out, header{name, s})
			}
		default:
			return nil, fmt.Errorf("%s: want a string or a list of strings, got %s", name, config.TypeName(x))
		}
	}
	return out, nil
}

// Table is one table of a test file and its keys, for documentation.
type Table struct {
	Name string
	Keys []config.KeyDoc
}

// Tables documents the keys of a test file, table by table, from the tags
// that decode them.
func Tables() []Table {
	var (
		f  File
		c  Case
		in Input
		e  Expect
		r  TableRow
	)
	f.SetDefaults()
	c.SetDefaults() // [tests.counts] is listed in it, as counts.*
	in.SetDefaults()
	e.SetDefaults()
	return []Table{
		{"the file", config.Describe(&f)},
		{"[[tests]]", config.Describe(&c)},
		{"[[tests.input]]", config.Describe(&in)},
		{"[[tests.output]] and [[tests.dead_letter]]", config.Describe(&e)},
		{"[[tests.table]]", config.Describe(&r)},
	}
}
