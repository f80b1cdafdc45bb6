package pipetest

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestSchemaKeys: a source with key_format = "avro" gets each input's key
// (a table, with key_schema naming its schema) as the real source decodes
// one: _kafka_key in the schema's JSON form with its defaults filled in,
// _kafka_key_schema_id 0; a sink's key_field reaches into it.
func TestSchemaKeys(t *testing.T) {
	if out, ok := run(t, Options{}, "testdata/schema_keys_test.toml"); !ok {
		t.Fatal(out)
	}
}

// TestSchemaKeyMistakes: a key that does not fit key_schema is an error
// at key_schema naming the field; a keyed input of a source with a
// registry's key_format needs key_schema (a text key is not what that
// source reads), and key_schema needs such a source, a key and a kafka
// stage; each error at its input's line.
func TestSchemaKeyMistakes(t *testing.T) {
	for input, want := range map[string]string{
		"key = { user_id = 7 }\nkey_schema = \"schema-key.avsc\"": `testdata/x_test.toml:6:1: tests[0].input[0].key_schema: the key does not fit schema-key.avsc: field user_id: want a string, got 7`,
		"key_schema = \"schema-key.avsc\"":                        `testdata/x_test.toml:5:1: tests[0].input[0].key_schema: names the key's schema, but the input has no key`,
		"key = { user_id = \"ada\" }":                             `testdata/x_test.toml:5:1: tests[0].input[0].key: want a string, got a table (a key in a schema's JSON form needs key_schema)`,
	} {
		_, err := Parse("testdata/x_test.toml", []byte("pipeline = \"schema-keys.toml\"\n[[tests]]\nname = \"misfit\"\n[[tests.input]]\n"+input+"\nvalue = { id = 1 }\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to hold %s", err, want)
		}
	}

	dir, _ := filepath.Abs("testdata")
	path := filepath.Join(t.TempDir(), "keys_test.toml")
	text := fmt.Sprintf(`pipeline = %q
[[tests]]
name = "a text key into an Avro key source"
[[tests.input]]
value = { id = 1 }
key = "ada"
[[tests]]
name = "key_schema on a source that reads text keys"
[[tests.input]]
value = { id = 1 }
key = "ada"
key_schema = %q
`, filepath.Join(dir, "schema-keys.toml"), filepath.Join(dir, "schema-key.avsc"))
	text = strings.Replace(text, `key = "ada"
key_schema`, `key = { user_id = "ada" }
key_schema`, 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, ok := run(t, Options{}, path)
	for _, want := range []string{
		path + `:6:1: tests[0].input[0].key: stage "orders" has key_format = "avro": name the key's schema, key_schema = "key.avsc" (.proto, .json), and write the key in its JSON form`,
	} {
		if ok || !strings.Contains(out, want) {
			t.Errorf("ok %v, output:\n%s\nwant it to hold %s", ok, out, want)
		}
	}
	// The same key_schema on a source that reads text keys (schema.toml's).
	text = strings.Replace(text, filepath.Join(dir, "schema-keys.toml"), filepath.Join(dir, "schema.toml"), 1)
	text = strings.Replace(text, "key = \"ada\"\n[[tests]]", "[[tests]]", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, ok = run(t, Options{}, path)
	if want := path + `:11:1: tests[1].input[0].key_schema: stage "orders" reads keys as text (key_format = "json"): key_schema applies only with key_format avro, protobuf or json_schema`; ok || !strings.Contains(out, want) {
		t.Errorf("ok %v, output:\n%s\nwant it to hold %s", ok, out, want)
	}
}
