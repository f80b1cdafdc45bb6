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
// _kafka_schema_id 0 (no registry gives it an id). A value that does not
// fit, or a schema that does not compile, is an error at the input.
func (f *File) inputSchemas() error {
	locals := map[string]*schema.Local{}
	var errs []error
	for i := range f.Tests {
		for j := range f.Tests[i].Input {
			in := &f.Tests[i].Input[j]
			if in.Schema == "" || in.value == nil {
				continue
			}
			if err := in.throughSchema(filepath.Dir(f.Path), locals); err != nil {
				errs = append(errs, &config.Error{Kind: config.BadValue, Pos: at(in.Pos, in.KeyPos, "schema"), Stage: -1,
					Key: fmt.Sprintf("tests[%d].input[%d].schema", i, j), Msg: err.Error()})
			}
		}
	}
	return errors.Join(errs...)
}

func (in *Input) throughSchema(dir string, locals map[string]*schema.Local) error {
	path := in.Schema
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	l, ok := locals[path]
	if !ok {
		format, err := schema.FormatOf(path)
		if err != nil {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if l, err = schema.NewLocal(format, string(text), ""); err != nil {
			return fmt.Errorf("%s: %w", in.Schema, err)
		}
		locals[path] = l
	}
	v, err := l.RoundTrip(nil, in.value)
	if err != nil {
		return fmt.Errorf("the value does not fit %s: %w", in.Schema, err)
	}
	in.value = schema.AddID(v, 0)
	return nil
}
