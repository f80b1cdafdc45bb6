package pipetest

import (
	"strings"
	"testing"
)

// TestSchemas: inputs written as tables with their Avro schema named go in
// as the source decodes them (defaults filled in, _kafka_schema_id 0); the
// sink's schema_file shapes what it writes, and a record that does not fit
// it is dead-lettered naming the field; all without a registry.
func TestSchemas(t *testing.T) {
	if out, ok := run(t, Options{}, "testdata/schema_test.toml"); !ok {
		t.Fatal(out)
	}
}

// TestSchemaInputMisfit: an input that does not fit the schema it names
// is an error at the input's schema key, naming the field.
func TestSchemaInputMisfit(t *testing.T) {
	_, err := Parse("testdata/x_test.toml", []byte(`pipeline = "schema.toml"
[[tests]]
name = "misfit"
[[tests.input]]
value = { id = "one", customer = "ada", amount = 25 }
schema = "schema-orders.avsc"
`))
	if err == nil || !strings.Contains(err.Error(), `testdata/x_test.toml:6:1: tests[0].input[0].schema: the value does not fit schema-orders.avsc: field id: want an Avro long (a whole number), got "one"`) {
		t.Fatalf("err = %v", err)
	}
}
