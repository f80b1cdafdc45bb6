package kafka

import (
	"strings"
	"testing"
)

// TestSchemaKeysValidate: the schema keys are refused where they cannot
// work, each error naming its key.
func TestSchemaKeysValidate(t *testing.T) {
	sink := func(f func(*SinkConfig)) error {
		c := DefaultSinkConfig()
		c.Brokers, c.Topic = []string{"localhost:9092"}, "out"
		f(c)
		return c.Validate()
	}
	source := func(f func(*SourceConfig)) error {
		c := DefaultSourceConfig()
		c.Brokers, c.Topic, c.GroupID = []string{"localhost:9092"}, "in", "g"
		f(c)
		return c.Validate()
	}
	cases := []struct {
		name string
		err  error
		want string // "" = valid
	}{
		{"sink avro", sink(func(c *SinkConfig) {
			c.ValueFormat, c.RegistryURL, c.SchemaFile = "avro", "http://r", "o.avsc"
		}), ""},
		{"sink avro latest", sink(func(c *SinkConfig) { c.ValueFormat, c.RegistryURL, c.Schema = "avro", "http://r", "latest" }), ""},
		{"sink without registry", sink(func(c *SinkConfig) { c.ValueFormat, c.SchemaFile = "avro", "o.avsc" }), "schema_registry: required with value_format = \"avro\""},
		{"sink without schema", sink(func(c *SinkConfig) { c.ValueFormat, c.RegistryURL = "protobuf", "http://r" }), "schema_file"},
		{"sink with both", sink(func(c *SinkConfig) {
			c.ValueFormat, c.RegistryURL, c.SchemaFile, c.Schema = "avro", "http://r", "o.avsc", "latest"
		}), "schema: set schema_file or schema"},
		{"record_name with latest", sink(func(c *SinkConfig) {
			c.ValueFormat, c.RegistryURL, c.Schema, c.SubjectStrategy = "avro", "http://r", "latest", "record_name"
		}), "subject_name_strategy"},
		{"protobuf_message on avro", sink(func(c *SinkConfig) {
			c.ValueFormat, c.RegistryURL, c.SchemaFile, c.ProtobufMessage = "avro", "http://r", "o.avsc", "a.B"
		}), "protobuf_message"},
		{"schema_file on json", sink(func(c *SinkConfig) { c.SchemaFile = "o.avsc" }), "schema_file: applies only with value_format"},
		{"registry on json", sink(func(c *SinkConfig) { c.RegistryURL = "http://r" }), "schema_registry_url: the schema registry keys apply only"},
		{"sink per-message", sink(func(c *SinkConfig) {
			c.ValueFormat, c.RegistryURL, c.SchemaFile, c.Delivery = "avro", "http://r", "o.avsc", "per-message"
		}), "value_format: \"avro\" needs delivery = \"batch\""},
		{"sink avro key", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.RegistryURL, c.KeySchemaFile = "avro", "k", "http://r", "k.avsc"
		}), ""},
		{"sink key latest", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.RegistryURL, c.KeySchema = "protobuf", "k", "http://r", "latest"
		}), ""},
		{"sink key without key_field", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyExpr, c.RegistryURL, c.KeySchema = "avro", "k", "http://r", "latest"
		}), "key_format: \"avro\" needs key_field"},
		{"sink key without registry", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.KeySchema = "avro", "k", "latest"
		}), "schema_registry: required with key_format = \"avro\""},
		{"sink key without schema", sink(func(c *SinkConfig) { c.KeyFormat, c.KeyField, c.RegistryURL = "avro", "k", "http://r" }), "key_schema_file: set key_schema_file"},
		{"sink key with both", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.RegistryURL, c.KeySchemaFile, c.KeySchema = "avro", "k", "http://r", "k.avsc", "latest"
		}), "key_schema: set key_schema_file or key_schema"},
		{"key_subject on json key", sink(func(c *SinkConfig) { c.KeySubject = "s" }), "key_subject: applies only with key_format"},
		{"sink key per-message", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.RegistryURL, c.KeySchema, c.Delivery = "avro", "k", "http://r", "latest", "per-message"
		}), "key_format: \"avro\" needs delivery = \"batch\""},
		{"source avro", source(func(c *SourceConfig) { c.ValueFormat, c.RegistryURL = "avro", "http://r" }), ""},
		{"source avro table", source(func(c *SourceConfig) { c.ValueFormat, c.Registry.URL = "avro", "http://r" }), ""},
		{"sink key table", sink(func(c *SinkConfig) {
			c.KeyFormat, c.KeyField, c.Registry.URL, c.KeySchema = "avro", "k", "http://r", "latest"
		}), ""},
		{"table and flat", source(func(c *SourceConfig) {
			c.ValueFormat, c.Registry.URL, c.RegistryPassword = "avro", "http://r", "pw"
		}), "schema_registry_password: set schema_registry = { url = \"...\", ... } or the flat schema_registry_* keys, not both"},
		{"table without url", sink(func(c *SinkConfig) {
			c.ValueFormat, c.Registry.Username, c.SchemaFile = "avro", "u", "o.avsc"
		}), "schema_registry.url: required with value_format = \"avro\""},
		{"table on json", sink(func(c *SinkConfig) { c.Registry.URL = "http://r" }), "schema_registry: the schema registry keys apply only"},
		{"source without registry", source(func(c *SourceConfig) { c.ValueFormat = "json_schema" }), "schema_registry: required with value_format = \"json_schema\""},
		{"source avro key", source(func(c *SourceConfig) { c.KeyFormat, c.RegistryURL = "avro", "http://r" }), ""},
		{"source key without registry", source(func(c *SourceConfig) { c.KeyFormat = "protobuf" }), "schema_registry: required with key_format = \"protobuf\""},
		{"source key per-message", source(func(c *SourceConfig) {
			c.KeyFormat, c.RegistryURL, c.Delivery = "avro", "http://r", "per-message"
		}), "key_format: \"avro\" needs delivery = \"batch\""},
		{"source per-message", source(func(c *SourceConfig) {
			c.ValueFormat, c.RegistryURL, c.Delivery = "avro", "http://r", "per-message"
		}), "needs delivery = \"batch\""},
	}
	for _, c := range cases {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("%s: %v", c.name, c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, c.err, c.want)
		}
	}
}
