package operators

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// JSONExtractConfig is the config of "json.extract".
type JSONExtractConfig struct {
	Field string `key:"field" required:"true" doc:"field holding a JSON document in a string; a.b is a nested field"`
	Into  string `key:"into" doc:"field to put the parsed document in (a.b nested); empty: its members go to the top level"`
	Keep  bool   `key:"keep" doc:"keep the string field too (by default it is removed once parsed)"`
}

// Validate checks the names.
func (c *JSONExtractConfig) Validate() error {
	var errs []error
	for _, k := range []struct{ key, name string }{{"field", c.Field}, {"into", c.Into}} {
		n := k.name
		if k.key == "into" && n == "" {
			continue
		}
		if !isFieldName(n) {
			errs = append(errs, config.Invalid(k.key, "%q is not a field name (a or a.b)", n))
		}
	}
	return errors.Join(errs...)
}

// JSONExtractSpec is the "json.extract" function.
func JSONExtractSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "json.extract",
		Plugin:  "json",
		Summary: "parse a field holding a JSON document in a string into the record",
		Doc: "Without into, the document must be an object: its members go to the end of the record, replacing fields\n" +
			"of the same names. With into, any JSON value is put there. The string field is removed unless keep = true.\n" +
			"A field that is already an object (not a string) is taken as it is. A string that is not JSON (or, without\n" +
			"into, not an object) fails the record, which goes where [error_handling] sends failures. A record that\n" +
			"lacks the field goes on unchanged, counted (the stage summary). For a Kafka message whose value was not a\n" +
			"JSON object, the value is in _kafka_payload: field = \"_kafka_payload\" parses a JSON document held there.\n",
		Operator: plugin.NewFactory(func() *JSONExtractConfig { return &JSONExtractConfig{} },
			func(_ context.Context, c *JSONExtractConfig, _ plugin.Env) (plugin.Operator, error) {
				return NewJSONExtract(c)
			}),
	}
}

// JSONExtract parses a JSON document held in a string field.
type JSONExtract struct {
	c         JSONExtractConfig
	path      record.Path
	drop      []fieldPattern
	intoParts []string
	counts    matchCounts
}

// NewJSONExtract prepares json.extract.
func NewJSONExtract(c *JSONExtractConfig) (*JSONExtract, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	j := &JSONExtract{c: *c, path: record.CompilePath(c.Field), drop: compilePatterns([]string{c.Field})}
	if c.Into != "" {
		j.intoParts = strings.Split(c.Into, ".")
	}
	return j, nil
}

// Apply extracts the field of each record; a record whose field does not
// parse is failed.
func (j *JSONExtract) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	a := newArena(in, 0)
	var doc, dropped []byte
	var missing int64
	for i, r := range in {
		if !isObject(r.Value) {
			fail(i, errNotObject)
			continue
		}
		f := j.path.Get(r.Value)
		if !f.Exists() {
			missing++
			out = append(out, r)
			continue
		}
		var err error
		if doc, err = j.document(doc[:0], f); err != nil {
			fail(i, err)
			continue
		}
		base := r.Value
		if !j.c.Keep {
			dropped, _ = appendDropped(dropped[:0], r.Value, j.drop)
			base = dropped
		}
		start := len(a.buf)
		if j.intoParts != nil {
			a.buf, _ = appendSet(a.buf, base, j.intoParts, doc)
		} else {
			a.buf = appendMerged(a.buf, base, doc)
		}
		out = a.appendRecord(out, r, start, true)
	}
	a.place(out)
	j.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(in)), Missing: missing})
	return out
}

// document appends the field's document, compact, to dst.
func (j *JSONExtract) document(dst []byte, f gjson.Result) ([]byte, error) {
	var src string
	switch {
	case f.Type == gjson.String:
		src = f.Str
	case f.IsObject(), f.IsArray() && j.intoParts != nil:
		src = f.Raw // parsed already
	default:
		return dst, fmt.Errorf("json.extract: %s is %s, not a string holding JSON", j.c.Field, kindOf(f))
	}
	dst, ok := record.AppendCompact(dst, []byte(src))
	if !ok {
		return dst, fmt.Errorf("json.extract: %s does not hold a JSON document: %s", j.c.Field, excerpt(src))
	}
	if j.intoParts == nil && !isObject(dst) {
		return dst, fmt.Errorf("json.extract: %s holds JSON that is not an object (%s); use into to put it in a field", j.c.Field, excerpt(src))
	}
	return dst, nil
}

func kindOf(r gjson.Result) string {
	switch {
	case r.IsArray():
		return "an array"
	case r.Type == gjson.Number:
		return "a number"
	case r.Type == gjson.Null:
		return "null"
	case r.Type == gjson.True || r.Type == gjson.False:
		return "a boolean"
	}
	return "an object"
}

// excerpt is the start of a bad document, for an error message.
func excerpt(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// appendMerged appends obj's members but those doc has, then doc's.
func appendMerged(dst, obj, doc []byte) []byte {
	dst = append(dst, '{')
	record.Members(obj, func(name string, key, v []byte) bool {
		replaced := false
		record.Members(doc, func(n string, _, _ []byte) bool {
			replaced = n == name
			return !replaced
		})
		if !replaced {
			dst = appendKey(dst, key)
			dst = append(dst, v...)
		}
		return true
	})
	record.Members(doc, func(_ string, key, v []byte) bool {
		dst = appendKey(dst, key)
		dst = append(dst, v...)
		return true
	})
	return append(dst, '}')
}

// Stats returns the counts: Missing is the records without the field.
func (j *JSONExtract) Stats() FilterStats { return j.counts.Stats() }

// Report implements plugin.Reporter.
func (j *JSONExtract) Report(log *zap.Logger, final bool) {
	j.counts.report(log, final, "json.extract", []zap.Field{zap.String("field", j.c.Field)},
		"json.extract: no record has the field; check its name (a.b reads a nested field)", "")
}
