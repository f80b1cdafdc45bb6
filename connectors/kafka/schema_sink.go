package kafka

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/schema"
	"github.com/conveyor-etl/conveyor/plugin"
)

// newValueEncoder is the encoder of the sink's values, nil for JSON: with
// schema_file, the schema registered under the subject (refused with the
// registry's reasons if incompatible with the subject's latest version);
// with schema = "latest", the subject's latest. Every error names the
// stage, and the registry's URL when it is the registry's.
func newValueEncoder(cfg *SinkConfig, env plugin.Env) (*schema.Encoder, error) {
	if isJSON(cfg.ValueFormat) {
		return nil, nil
	}
	enc, err := valueEncoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", env.Stage.ID, err)
	}
	return enc, nil
}

// newKeyEncoder is the encoder of the sink's keys (key_format), nil for
// JSON, made as newValueEncoder's with key_schema_file, key_schema and
// key_subject.
func newKeyEncoder(cfg *SinkConfig, env plugin.Env) (*schema.Encoder, error) {
	if isJSON(cfg.KeyFormat) {
		return nil, nil
	}
	enc, err := cfg.registryEncoder(cfg.KeyFormat, cfg.KeySchemaFile, "key_schema_file", "", cfg.keySubject)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: key_format: %w", env.Stage.ID, err)
	}
	return enc, nil
}

func valueEncoder(cfg *SinkConfig) (*schema.Encoder, error) {
	return cfg.registryEncoder(cfg.ValueFormat, cfg.SchemaFile, "schema_file", cfg.ProtobufMessage, cfg.subject)
}

// registryEncoder is an encoder in format: with file (the key named
// fileKey), its schema registered under subject(its text) if missing;
// without, subject's latest.
func (cfg *SinkConfig) registryEncoder(format, file, fileKey, message string, subject func(string) (string, error)) (*schema.Encoder, error) {
	var text string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileKey, err)
		}
		text = string(b)
	}
	subj, err := subject(text)
	if err != nil {
		return nil, err
	}
	reg, err := cfg.registry(cfg.Retries, cfg.RetryBackoff, max(cfg.RetryBackoff, cfg.RetryBackoffMax))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.Ping(ctx); err != nil {
		return nil, err
	}
	enc, err := schema.NewEncoder(ctx, reg, schema.EncoderConfig{Format: format, Subject: subj, Schema: text, Message: message})
	if err != nil && file != "" {
		return nil, fmt.Errorf("%s %s: %w", fileKey, file, err)
	}
	return enc, err
}

// keySubject is the registry subject of the sink's keys: key_subject,
// else "<topic>-key".
func (c *SinkConfig) keySubject(string) (string, error) {
	if c.KeySubject != "" {
		return c.KeySubject, nil
	}
	if c.Topic == "" {
		return "", fmt.Errorf("key_subject is needed with topic_expr")
	}
	return c.Topic + "-key", nil
}

// schemaKey sets m's key to key_field's JSON value in the wire format of
// key_format's schema, appended to arena as schemaValue's value; a record
// without the field is unkeyed. A key that does not fit fails the record,
// naming the field.
func (e *encoder) schemaKey(m *sarama.ProducerMessage, rec []byte, arena *[]byte, slot *encSlots) (unkeyed bool, err error) {
	raw, ok := e.keyRaw.Raw(rec)
	if !ok || string(raw) == "null" {
		return true, nil
	}
	k, err := encodeTo(e.keys, arena, raw)
	if err != nil {
		return false, fmt.Errorf("key_format %q: key_field %s: %w", e.cfg.KeyFormat, e.cfg.KeyField, err)
	}
	m.Key = slot.key(k)
	return false, nil
}

// encodeTo returns rec encoded by enc, appended to arena (see
// encoder.encode: a new chunk when the arena has no room).
func encodeTo(enc *schema.Encoder, arena *[]byte, rec []byte) ([]byte, error) {
	if cap(*arena)-len(*arena) < len(rec)+16 {
		*arena = make([]byte, 0, nextChunk(cap(*arena), len(rec)+16))
	}
	start := len(*arena)
	out, err := enc.Encode(*arena, rec)
	if err != nil {
		return nil, err
	}
	*arena = out
	return out[start:len(out):len(out)], nil
}

// subject is the registry subject the sink writes under: subject, else
// by subject_name_strategy, from the schema's text for the record name.
func (c *SinkConfig) subject(text string) (string, error) {
	if c.Subject != "" {
		return c.Subject, nil
	}
	if c.SubjectStrategy == "record_name" || c.SubjectStrategy == "topic_record_name" {
		name, err := schema.RecordName(c.ValueFormat, text, c.ProtobufMessage)
		if err != nil || c.SubjectStrategy == "record_name" {
			return name, err
		}
		if c.Topic == "" {
			return "", fmt.Errorf("subject_name_strategy = %q needs topic (with topic_expr, set subject)", c.SubjectStrategy)
		}
		return c.Topic + "-" + name, nil
	}
	if c.Topic == "" {
		return "", fmt.Errorf("subject_name_strategy = \"topic_name\" needs topic (with topic_expr, set subject)")
	}
	return c.Topic + "-value", nil
}

// schemaValue sets m's value to rec in the wire format of the sink's
// schema, appended to arena (see encoder.encode). A record that does not
// fit the schema is an error naming the field.
func (e *encoder) schemaValue(m *sarama.ProducerMessage, rec []byte, arena *[]byte, slot *encSlots) error {
	v, err := encodeTo(e.values, arena, rec)
	if err != nil {
		return fmt.Errorf("value_format %q: %w", e.cfg.ValueFormat, err)
	}
	m.Value = slot.value(v)
	return nil
}

// localValues is the schema_file of a sink writing value_format avro,
// protobuf or json_schema, without a registry, for Encoder; nil for JSON
// or schema = "latest".
func localValues(cfg *SinkConfig) (*schema.Local, error) {
	if cfg.ValueFormat == "" || cfg.ValueFormat == FormatJSON || cfg.SchemaFile == "" {
		return nil, nil
	}
	text, err := os.ReadFile(cfg.SchemaFile)
	if err != nil {
		return nil, fmt.Errorf("schema_file: %w", err)
	}
	l, err := schema.NewLocal(cfg.ValueFormat, string(text), cfg.ProtobufMessage)
	if err != nil {
		return nil, fmt.Errorf("schema_file %s: %w", cfg.SchemaFile, err)
	}
	return l, nil
}

// schemaValue makes m's value rec as read back after writing with the
// sink's schema_file (see Encoder.Encode).
func (e *Encoder) schemaValue(m *sarama.ProducerMessage, rec []byte) error {
	if e.values == nil || m.Value == nil {
		return nil
	}
	v, err := e.values.RoundTrip(nil, rec)
	if err != nil {
		return plugin.Permanent(fmt.Errorf("value_format %q: %w", e.cfg.ValueFormat, err))
	}
	m.Value = sarama.ByteEncoder(v)
	return nil
}
