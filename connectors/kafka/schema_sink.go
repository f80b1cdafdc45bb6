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
	if cfg.ValueFormat == "" || cfg.ValueFormat == FormatJSON {
		return nil, nil
	}
	enc, err := valueEncoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka sink %q: %w", env.Stage.ID, err)
	}
	return enc, nil
}

func valueEncoder(cfg *SinkConfig) (*schema.Encoder, error) {
	var text string
	if cfg.SchemaFile != "" {
		b, err := os.ReadFile(cfg.SchemaFile)
		if err != nil {
			return nil, fmt.Errorf("schema_file: %w", err)
		}
		text = string(b)
	}
	subject, err := cfg.subject(text)
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
	enc, err := schema.NewEncoder(ctx, reg, schema.EncoderConfig{Format: cfg.ValueFormat, Subject: subject, Schema: text, Message: cfg.ProtobufMessage})
	if err != nil && cfg.SchemaFile != "" {
		return nil, fmt.Errorf("schema_file %s: %w", cfg.SchemaFile, err)
	}
	return enc, err
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
	if cap(*arena)-len(*arena) < len(rec)+16 {
		*arena = make([]byte, 0, nextChunk(cap(*arena), len(rec)+16))
	}
	start := len(*arena)
	out, err := e.values.Encode(*arena, rec)
	if err != nil {
		return fmt.Errorf("value_format %q: %w", e.cfg.ValueFormat, err)
	}
	*arena = out
	m.Value = slot.value(out[start:len(out):len(out)])
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
