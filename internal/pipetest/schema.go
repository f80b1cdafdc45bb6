package pipetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// inputSchemas writes each input that names a schema with it and reads
// it back, as the kafka source with value_format decodes a value: the
// input's value becomes what a reader of the schema sees, with
// _kafka_schema_id 0 (no registry gives it an id). A key with key_schema
// goes the same way, as the source with key_format decodes a key. A value
// or key that does not fit, or a schema that does not compile, is an
// error at the input's schema or key_schema.
func (f *File) inputSchemas() error {
	locals := localSchemas{dir: filepath.Dir(f.Path), by: map[string]*schema.Local{}}
	var errs []error
	for i := range f.Tests {
		for j := range f.Tests[i].Input {
			in := &f.Tests[i].Input[j]
			fail := func(key string, err error) {
				errs = append(errs, &config.Error{Kind: config.BadValue, Pos: at(in.Pos, in.KeyPos, key), Stage: -1,
					Key: fmt.Sprintf("tests[%d].input[%d].%s", i, j, key), Msg: err.Error()})
			}
			if in.Schema != "" && in.value != nil {
				v, err := locals.roundTrip(in.Schema, "value", in.value)
				if err != nil {
					fail("schema", err)
				} else {
					in.value = schema.AddID(v, 0)
				}
			}
			if in.KeySchema != "" && in.keyed {
				k, err := locals.roundTrip(in.KeySchema, "key", in.key)
				if err != nil {
					fail("key_schema", err)
				} else {
					in.key, in.keyJSON = k, k
				}
			}
		}
	}
	return errors.Join(errs...)
}

// localSchemas are the schema files of a test file, compiled once each.
type localSchemas struct {
	dir string // the test file's, where relative paths start
	by  map[string]*schema.Local
}

// roundTrip is what a reader of the schema file sees of rec (what: "value"
// or "key", for errors).
func (ls localSchemas) roundTrip(file, what string, rec []byte) ([]byte, error) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(ls.dir, path)
	}
	l, ok := ls.by[path]
	if !ok {
		format, err := schema.FormatOf(path)
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if l, err = schema.NewLocal(format, string(text), ""); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		ls.by[path] = l
	}
	v, err := l.RoundTrip(nil, rec)
	if err != nil {
		return nil, fmt.Errorf("the %s does not fit %s: %w", what, file, err)
	}
	return v, nil
}

// keySchemaFits says what is wrong with the input's key for a source
// whose key_format is format: a keyed input of a registry format needs
// key_schema (its key would otherwise go in as text, which that source
// does not read), and key_schema needs such a format. It returns the key
// the problem is at, and "" when there is none.
func (in *Input) keySchemaFits(stage, format string) (key, msg string) {
	registry := format != "" && format != "json"
	switch {
	case registry && in.keyed && in.KeySchema == "":
		return "key", fmt.Sprintf("stage %q has key_format = %q: name the key's schema, key_schema = \"key.avsc\" (.proto, .json), and write the key in its JSON form", stage, format)
	case !registry && in.KeySchema != "":
		return "key_schema", fmt.Sprintf("stage %q reads keys as text (key_format = \"json\"): key_schema applies only with key_format avro, protobuf or json_schema", stage)
	}
	return "", ""
}
