package kafka

import (
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// The values of value_format: json, as the spec has it, and the schema
// registry's formats (internal/schema).
const (
	FormatJSON       = "json"
	FormatAvro       = schema.Avro
	FormatProtobuf   = schema.Protobuf
	FormatJSONSchema = schema.JSONSchema
)

// SchemaRegistry holds the keys that reach a Confluent-compatible schema
// registry, for value_format avro, protobuf and json_schema.
type SchemaRegistry struct {
	RegistryURL      string        `key:"schema_registry_url" doc:"Confluent-compatible schema registry (e.g. \"http://localhost:8081\", or Apicurio's \"http://host:8080/apis/ccompat/v7\"); required with value_format avro, protobuf or json_schema"`
	RegistryUsername string        `key:"schema_registry_username" doc:"user name for the registry's HTTP basic authentication"`
	RegistryPassword config.Secret `key:"schema_registry_password" secret:"true" doc:"password for the registry's HTTP basic authentication; write \"${SR_PASSWORD}\" rather than the secret itself"`
	RegistryCAFile   string        `key:"schema_registry_tls_ca_file" doc:"PEM file of CA certificates that sign an https registry's certificate (default: system roots)"`
}

// SourceSchema holds the source's keys for values in a registry's format.
type SourceSchema struct {
	ValueFormat string `key:"value_format" enum:"json,avro,protobuf,json_schema" doc:"what a message's value is: json (default, as the spec says); avro, protobuf or json_schema in the schema registry's wire format (a zero byte, the 4-byte schema id, the encoded value), decoded with the schema its id names (fetched once and cached) into a JSON record with _kafka_schema_id (and _kafka_schema_message, Protobuf's message name); a value that is not in that format, whose schema cannot be fetched or does not read it goes by invalid, with _kafka_schema_error saying why (see the README's Schemas section for each type's JSON form)"`
	KeyFormat   string `key:"key_format" enum:"json,avro,protobuf,json_schema" doc:"what a message's key is: json (default: the key as text in _kafka_key, as the spec says); avro, protobuf or json_schema in the schema registry's wire format, decoded with the schema its id names into _kafka_key as its JSON form (an object, string, number...), with _kafka_key_schema_id; a null key stays null; a key that does not decode makes the record go by invalid, its value as _kafka_payload_base64 and _kafka_schema_error saying \"key: \" and why"`
	SchemaRegistry
}

// SinkSchema holds the sink's keys for values in a registry's format.
type SinkSchema struct {
	ValueFormat     string `key:"value_format" enum:"json,avro,protobuf,json_schema" doc:"what the sink writes as a message's value: json (default: the record); avro, protobuf or json_schema in the schema registry's wire format, with the schema of schema_file or the subject's latest (schema = \"latest\"); a record that does not fit it fails alone under [error_handling], naming the field and what was expected; the record's _kafka_* fields are not written"`
	Subject         string `key:"subject" doc:"registry subject of the schema written with (default: by subject_name_strategy)"`
	SubjectStrategy string `key:"subject_name_strategy" enum:"topic_name,record_name,topic_record_name" doc:"subject when subject is not set, as Confluent's strategies name it: topic_name \"<topic>-value\" (default), record_name \"<record's full name>\", topic_record_name \"<topic>-<record's full name>\" (the record names come from schema_file)"`
	SchemaFile      string `key:"schema_file" doc:"file of the schema to write with (.avsc, .proto or JSON Schema), relative to the working directory; registered under the subject at start if the registry does not have it there, after asking the registry whether it is compatible with the subject's latest version: an incompatible one stops the start with the registry's reason"`
	Schema          string `key:"schema" enum:"latest" doc:"\"latest\": write with the subject's latest schema, as the registry has it at start (instead of schema_file)"`
	ProtobufMessage string `key:"protobuf_message" doc:"with value_format = \"protobuf\": the full name of the message to write (default: the first message of the schema)"`
	SchemaRegistry
}

func (c *SourceSchema) validate(delivery string) []error {
	if isJSON(c.ValueFormat) && isJSON(c.KeyFormat) {
		return c.SchemaRegistry.unused()
	}
	key, format := "value_format", c.ValueFormat
	if isJSON(format) {
		key, format = "key_format", c.KeyFormat
	}
	var errs []error
	if c.RegistryURL == "" {
		errs = append(errs, config.Invalid("schema_registry_url", "required with %s = %q", key, format))
	}
	if delivery == "per-message" {
		errs = append(errs, config.Invalid(key, "%q needs delivery = \"batch\"", format))
	}
	return errs
}

// isJSON reports whether format (value_format's or key_format's) is the
// default: no schema.
func isJSON(format string) bool { return format == "" || format == FormatJSON }

func (c *SinkSchema) validate(delivery string) []error {
	if c.ValueFormat == "" || c.ValueFormat == FormatJSON {
		errs := c.SchemaRegistry.unused()
		for key, set := range map[string]bool{"subject": c.Subject != "", "schema_file": c.SchemaFile != "", "schema": c.Schema != "", "protobuf_message": c.ProtobufMessage != ""} {
			if set {
				errs = append(errs, config.Invalid(key, "applies only with value_format avro, protobuf or json_schema"))
			}
		}
		return errs
	}
	var errs []error
	if c.RegistryURL == "" {
		errs = append(errs, config.Invalid("schema_registry_url", "required with value_format = %q", c.ValueFormat))
	}
	if delivery == "per-message" {
		errs = append(errs, config.Invalid("value_format", "%q needs delivery = \"batch\"", c.ValueFormat))
	}
	switch {
	case c.SchemaFile == "" && c.Schema == "":
		errs = append(errs, config.Invalid("schema_file", "set schema_file (the schema to write with) or schema = \"latest\" with value_format = %q", c.ValueFormat))
	case c.SchemaFile != "" && c.Schema != "":
		errs = append(errs, config.Invalid("schema", "set schema_file or schema = \"latest\", not both"))
	case c.Schema != "" && c.Subject == "" && c.SubjectStrategy != "topic_name":
		errs = append(errs, config.Invalid("subject_name_strategy", "%q takes the record's name from schema_file: with schema = \"latest\", set subject", c.SubjectStrategy))
	}
	if c.ProtobufMessage != "" && c.ValueFormat != FormatProtobuf {
		errs = append(errs, config.Invalid("protobuf_message", "applies only with value_format = \"protobuf\""))
	}
	return errs
}

// unused reports registry keys set while the value (and a source's key)
// is JSON.
func (r *SchemaRegistry) unused() []error {
	if r.RegistryURL != "" || r.RegistryUsername != "" || r.RegistryPassword != "" || r.RegistryCAFile != "" {
		return []error{config.Invalid("schema_registry_url", "the schema registry keys apply only with value_format (or a source's key_format) avro, protobuf or json_schema")}
	}
	return nil
}

// registry is the client of the registry r names: retried with the
// sink's backoff (retries, between first and most).
func (r *SchemaRegistry) registry(retries int, first, most time.Duration) (*schema.Registry, error) {
	return schema.NewRegistry(schema.RegistryConfig{URL: r.RegistryURL, Username: r.RegistryUsername,
		Password: string(r.RegistryPassword), CAFile: r.RegistryCAFile, Retries: retries, Backoff: first, BackoffMax: most})
}
