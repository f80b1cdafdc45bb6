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

// Registry is the schema_registry table: how to reach a
// Confluent-compatible schema registry.
type Registry struct {
	URL      string        `key:"url" doc:"the registry's URL (e.g. \"http://localhost:8081\", or Apicurio's \"http://host:8080/apis/ccompat/v7\")"`
	Username string        `key:"username" doc:"user name for the registry's HTTP basic authentication"`
	Password config.Secret `key:"password" secret:"true" doc:"password for the registry's HTTP basic authentication; write \"${SR_PASSWORD}\" rather than the secret itself"`
	CAFile   string        `key:"tls_ca_file" doc:"PEM file of CA certificates that sign an https registry's certificate (default: system roots)"`
}

// SchemaRegistry holds the keys that reach the registry, for value_format
// (and key_format) avro, protobuf and json_schema: the schema_registry
// table, or the same keys written flat, as pipelines written before the
// table have them. Both at once is an error.
type SchemaRegistry struct {
	Registry         Registry      `key:"schema_registry" doc:"the Confluent-compatible schema registry, required with value_format (or key_format) avro, protobuf or json_schema: schema_registry = { url = \"...\", username = \"...\", password = \"${SR_PASSWORD}\", tls_ca_file = \"...\" }, or a [stages.config.schema_registry] table"`
	RegistryURL      string        `key:"schema_registry_url" doc:"schema_registry.url written flat (the older spelling, still taken; not together with schema_registry)"`
	RegistryUsername string        `key:"schema_registry_username" doc:"schema_registry.username written flat"`
	RegistryPassword config.Secret `key:"schema_registry_password" secret:"true" doc:"schema_registry.password written flat"`
	RegistryCAFile   string        `key:"schema_registry_tls_ca_file" doc:"schema_registry.tls_ca_file written flat"`
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
	KeyFormat       string `key:"key_format" enum:"json,avro,protobuf,json_schema" doc:"what the sink writes as a message's key: json (default: key_field's value as text); avro, protobuf or json_schema in the schema registry's wire format: key_field's JSON value (an object, string, number...) encoded with key_schema_file's schema or key_subject's latest (key_schema = \"latest\"); a key that does not fit fails its record alone under [error_handling], naming the field; needs key_field"`
	KeySubject      string `key:"key_subject" doc:"registry subject of the key's schema (default: \"<topic>-key\")"`
	KeySchemaFile   string `key:"key_schema_file" doc:"file of the key's schema (.avsc, .proto or JSON Schema), relative to the working directory; registered under key_subject at start as schema_file is, an incompatible one stopping the start with the registry's reason"`
	KeySchema       string `key:"key_schema" enum:"latest" doc:"\"latest\": write keys with key_subject's latest schema, as the registry has it at start (instead of key_schema_file)"`
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
	errs := c.SchemaRegistry.required(key, format)
	if delivery == "per-message" {
		errs = append(errs, config.Invalid(key, "%q needs delivery = \"batch\"", format))
	}
	return errs
}

// isJSON reports whether format (value_format's or key_format's) is the
// default: no schema.
func isJSON(format string) bool { return format == "" || format == FormatJSON }

func (c *SinkSchema) validate(delivery string) []error {
	errs := c.validateKey(delivery)
	if isJSON(c.ValueFormat) {
		if isJSON(c.KeyFormat) {
			errs = append(errs, c.SchemaRegistry.unused()...)
		}
		for key, set := range map[string]bool{"subject": c.Subject != "", "schema_file": c.SchemaFile != "", "schema": c.Schema != "", "protobuf_message": c.ProtobufMessage != ""} {
			if set {
				errs = append(errs, config.Invalid(key, "applies only with value_format avro, protobuf or json_schema"))
			}
		}
		return errs
	}
	errs = append(errs, c.SchemaRegistry.required("value_format", c.ValueFormat)...)
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

// validateKey checks key_format's keys (key_field is checked by
// SinkConfig.Validate).
func (c *SinkSchema) validateKey(delivery string) []error {
	if isJSON(c.KeyFormat) {
		var errs []error
		for key, set := range map[string]bool{"key_subject": c.KeySubject != "", "key_schema_file": c.KeySchemaFile != "", "key_schema": c.KeySchema != ""} {
			if set {
				errs = append(errs, config.Invalid(key, "applies only with key_format avro, protobuf or json_schema"))
			}
		}
		return errs
	}
	var errs []error
	if isJSON(c.ValueFormat) {
		errs = c.SchemaRegistry.required("key_format", c.KeyFormat)
	}
	if delivery == "per-message" {
		errs = append(errs, config.Invalid("key_format", "%q needs delivery = \"batch\"", c.KeyFormat))
	}
	switch {
	case c.KeySchemaFile == "" && c.KeySchema == "":
		errs = append(errs, config.Invalid("key_schema_file", "set key_schema_file (the key's schema) or key_schema = \"latest\" with key_format = %q", c.KeyFormat))
	case c.KeySchemaFile != "" && c.KeySchema != "":
		errs = append(errs, config.Invalid("key_schema", "set key_schema_file or key_schema = \"latest\", not both"))
	}
	return errs
}

// flat is the first of the flat registry keys that is set, "" for none.
func (r *SchemaRegistry) flat() string {
	for _, k := range []struct {
		key string
		set bool
	}{{"schema_registry_url", r.RegistryURL != ""}, {"schema_registry_username", r.RegistryUsername != ""},
		{"schema_registry_password", r.RegistryPassword != ""}, {"schema_registry_tls_ca_file", r.RegistryCAFile != ""}} {
		if k.set {
			return k.key
		}
	}
	return ""
}

// settings are the registry's settings as written: the schema_registry
// table, or else the flat keys.
func (r *SchemaRegistry) settings() Registry {
	if r.Registry != (Registry{}) {
		return r.Registry
	}
	return Registry{URL: r.RegistryURL, Username: r.RegistryUsername, Password: r.RegistryPassword, CAFile: r.RegistryCAFile}
}

// required checks the registry keys that key = format needs: a URL, in
// the table or flat, not both.
func (r *SchemaRegistry) required(key, format string) []error {
	flat := r.flat()
	switch {
	case r.Registry != (Registry{}) && flat != "":
		return []error{config.Invalid(flat, "set schema_registry = { url = \"...\", ... } or the flat schema_registry_* keys, not both")}
	case r.Registry != (Registry{}) && r.Registry.URL == "":
		return []error{config.Invalid("schema_registry.url", "required with %s = %q", key, format)}
	case r.settings().URL == "":
		return []error{config.Invalid("schema_registry", "required with %s = %q: schema_registry = { url = \"...\" }", key, format)}
	}
	return nil
}

// unused reports registry keys set while the value (and a source's key)
// is JSON.
func (r *SchemaRegistry) unused() []error {
	key := r.flat()
	if r.Registry != (Registry{}) {
		key = "schema_registry"
	}
	if key != "" {
		return []error{config.Invalid(key, "the schema registry keys apply only with value_format (or a source's key_format) avro, protobuf or json_schema")}
	}
	return nil
}

// registry is the client of the registry r names: retried with the
// sink's backoff (retries, between first and most).
func (r *SchemaRegistry) registry(retries int, first, most time.Duration) (*schema.Registry, error) {
	set := r.settings()
	return schema.NewRegistry(schema.RegistryConfig{URL: set.URL, Username: set.Username,
		Password: string(set.Password), CAFile: set.CAFile, Retries: retries, Backoff: first, BackoffMax: most})
}
