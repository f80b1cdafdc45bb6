package operators

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// errNotObject fails a record that an operator must edit but that is not a
// JSON object (sources wrap any other payload in one, so it comes only
// from a foreign source).
var errNotObject = errors.New("the record is not a JSON object")

// FieldsSetConfig is the config of "fields.set".
type FieldsSetConfig struct {
	Set config.Pairs `key:"set" required:"true" doc:"field = expression, evaluated in the order written, each seeing the fields set before it: { total = \"price * qty\", source = \"'web'\" }"`

	progs []*expr.Program // compiled by Validate, parallel to Set
}

// Validate compiles every expression.
func (c *FieldsSetConfig) Validate() error {
	var errs []error
	if len(c.Set) == 0 {
		errs = append(errs, config.Invalid("set", "set at least one field"))
	}
	c.progs = c.progs[:0]
	for _, p := range c.Set {
		n := p.Key
		if !isFieldName(n) {
			errs = append(errs, config.Invalid("set", "%q is not a field name (a or a.b)", n))
		}
		prog, err := expr.Compile(p.Value)
		if err != nil {
			errs = append(errs, config.Invalid("set", "%s = %q: %v", n, p.Value, err))
		}
		c.progs = append(c.progs, prog)
	}
	return errors.Join(errs...)
}

// FieldsSetSpec is the "fields.set" function.
func FieldsSetSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "fields.set",
		Plugin:  "fields",
		Summary: "set fields of each record to expressions, such as { total = \"price * qty\" }",
		Doc: "Each value is an expression (README: Expressions; a string constant is quoted inside: source = \"'web'\").\n" +
			"They are evaluated in the order written, each on the record with the fields set before it. A field that\n" +
			"exists is replaced in place; a new one goes at the end (a.b inside the object a, made when missing).\n" +
			"An expression that meets a missing field or a type mismatch (\"abc\" * 2) sets nothing, and is counted\n" +
			"(the stage summary, conveyor_type_mismatch_total); coalesce(x, default) gives a default instead.\n",
		Operator: plugin.NewFactory(func() *FieldsSetConfig { return &FieldsSetConfig{} },
			func(_ context.Context, c *FieldsSetConfig, env plugin.Env) (plugin.Operator, error) {
				s, err := NewFieldsSet(c)
				if err == nil {
					telemetry.RegisterTypeMismatch(env.Registerer(), func() int64 { return s.Stats().TypeMismatch })
				}
				return s, err
			}),
	}
}

// FieldsSet sets fields to the values of expressions.
type FieldsSet struct {
	sets   []setField
	counts matchCounts
}

type setField struct {
	name  string
	parts []string
	prog  *expr.Program
}

// NewFieldsSet prepares fields.set.
func NewFieldsSet(c *FieldsSetConfig) (*FieldsSet, error) {
	if len(c.progs) != len(c.Set) {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	s := &FieldsSet{}
	for i, p := range c.Set {
		s.sets = append(s.sets, setField{name: p.Key, parts: strings.Split(p.Key, "."), prog: c.progs[i]})
	}
	return s, nil
}

// Apply sets the fields of each record.
func (s *FieldsSet) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	a := newArena(in, 32)
	var scratch [2][]byte
	var value []byte
	var missing, mismatch int64
	for i, r := range in {
		if !isObject(r.Value) {
			fail(i, errNotObject)
			continue
		}
		cur, changed, w := r.Value, false, 0
		var rec expr.Outcome
		for k := range s.sets {
			v, o, _ := s.sets[k].prog.Eval(cur)
			rec |= o
			var err error
			if value, err = v.AppendJSON(value[:0]); err != nil {
				continue // no value: counted by its outcome
			}
			next, _ := appendSet(scratch[w][:0], cur, s.sets[k].parts, value)
			scratch[w] = next
			cur, changed, w = next, true, 1-w
		}
		missing, mismatch = count(rec, missing, mismatch)
		start := len(a.buf)
		if changed {
			a.buf = append(a.buf, cur...)
		}
		out = a.appendRecord(out, r, start, changed)
	}
	a.place(out)
	s.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(in)), Missing: missing, TypeMismatch: mismatch})
	return out
}

// Stats returns the counts: records that met a missing field, or a type
// mismatch, in some expression.
func (s *FieldsSet) Stats() FilterStats { return s.counts.Stats() }

// Report implements plugin.Reporter.
func (s *FieldsSet) Report(log *zap.Logger, final bool) {
	names := make([]string, len(s.sets))
	for i := range s.sets {
		names[i] = s.sets[i].name
	}
	s.counts.report(log, final, "fields.set", []zap.Field{zap.Strings("fields", names)},
		"fields.set: every record lacked a field an expression reads; check the names (a.b reads a nested field)",
		"fields.set: every record met a type mismatch in an expression")
}
