package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// schemaFlags are consume's and produce's flags for values in a schema
// registry's formats, as a kafka stage's value_format and
// schema_registry.url keys.
type schemaFlags struct {
	format, registry *string
	file, subject    *string // produce only
}

func addSchemaFlags(c *command, produce bool) schemaFlags {
	f := schemaFlags{
		format:   c.String("value-format", "json", "json, avro, protobuf or json_schema (the last three in the schema registry's wire format; needs --schema-registry)"),
		registry: c.String("schema-registry", "", "Confluent-compatible schema registry URL, e.g. http://localhost:8081"),
	}
	if produce {
		f.file = c.String("schema-file", "", "with --value-format other than json: the schema to write with (registered under --subject if missing); without it, the subject's latest")
		f.subject = c.String("subject", "", "registry subject of the schema (default TOPIC-value)")
	}
	return f
}

// check reports a flag combination that cannot work.
func (f schemaFlags) check() error {
	switch *f.format {
	case "json":
		if *f.registry != "" {
			return fmt.Errorf("--schema-registry applies only with --value-format avro, protobuf or json_schema")
		}
		return nil
	case schema.Avro, schema.Protobuf, schema.JSONSchema:
		if *f.registry == "" {
			return fmt.Errorf("--value-format %s needs --schema-registry", *f.format)
		}
		return nil
	}
	return fmt.Errorf("--value-format: want json, avro, protobuf or json_schema, got %q", *f.format)
}

func (f schemaFlags) registryClient(ctx context.Context) (*schema.Registry, error) {
	reg, err := schema.NewRegistry(schema.RegistryConfig{URL: *f.registry, Retries: 3, Backoff: 100 * time.Millisecond, BackoffMax: time.Second})
	if err != nil {
		return nil, err
	}
	return reg, reg.Ping(ctx)
}

// decoder is consume's value decoder; nil for JSON.
func (f schemaFlags) decoder(ctx context.Context) (*schema.Decoder, error) {
	if *f.format == "json" {
		return nil, nil
	}
	reg, err := f.registryClient(ctx)
	if err != nil {
		return nil, err
	}
	return schema.NewDecoder(reg, *f.format)
}

// encoder is produce's value encoder for topic; nil for JSON.
func (f schemaFlags) encoder(ctx context.Context, topic string) (*schema.Encoder, error) {
	if *f.format == "json" {
		return nil, nil
	}
	reg, err := f.registryClient(ctx)
	if err != nil {
		return nil, err
	}
	var text string
	if *f.file != "" {
		b, err := os.ReadFile(*f.file)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	subject := *f.subject
	if subject == "" {
		subject = topic + "-value"
	}
	return schema.NewEncoder(ctx, reg, schema.EncoderConfig{Format: *f.format, Subject: subject, Schema: text})
}

// decodeValue is value decoded by d as consume prints it: the record, or
// one that says why it did not decode, with its bytes.
func decodeValue(ctx context.Context, d *schema.Decoder, value []byte) []byte {
	out, err := d.Decode(ctx, nil, value)
	if err == nil {
		return out
	}
	return record.AppendUndecodable(nil, value, err)
}
