package operators

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/compare"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// FilterConfig is the config of "filter.apply".
type FilterConfig struct {
	Column   string `key:"column" required:"true" doc:"field to test; a.b reads a nested field"`
	Operator string `key:"operator" required:"true" enum:"==,=,!=,<>,>,>=,<,<=,contains,not contains,in,not in,matches,exists,not exists" doc:"comparison: == = != <> > >= < <= contains, not contains, in, not in, matches (RE2), exists, not exists"`
	Value    any    `key:"value" doc:"value to compare with: a string, number or boolean (\"100\" compares as a number with a numeric field); an array for in and not in; an RE2 pattern for matches; none for exists and not exists (required otherwise)"`
}

// DefaultFilterConfig returns the (empty) defaults.
func DefaultFilterConfig() *FilterConfig { return &FilterConfig{} }

// Validate checks that the value fits the operator.
func (c *FilterConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Column) == "" {
		errs = append(errs, config.Invalid("column", "must not be empty"))
	}
	if _, ok := filterOps[c.Operator]; !ok {
		errs = append(errs, config.Invalid("operator", "unknown operator %q", c.Operator))
	}
	op := filterOps[c.Operator]
	list, isList := c.Value.([]any)
	switch {
	case op.noValue() && c.Value != nil:
		errs = append(errs, config.Invalid("value", "operator %s takes no value", c.Operator))
	case op.noValue():
	case c.Value == nil:
		errs = append(errs, config.Invalid("value", "missing: operator %s needs a value to compare with (a string, number or boolean; an array for in and not in)", c.Operator))
	case op.list() && !isList:
		errs = append(errs, config.Invalid("value", "operator %s wants an array, such as [\"a\", \"b\"]", c.Operator))
	case !op.list() && isList:
		errs = append(errs, config.Invalid("value", "an array is only allowed with operators in and not in"))
	case op == opMatches:
		if s, ok := c.Value.(string); !ok {
			errs = append(errs, config.Invalid("value", "operator matches wants a regular expression in a string, such as \"^X\""))
		} else if _, err := regexp.Compile(s); err != nil {
			errs = append(errs, config.Invalid("value", "bad regular expression (RE2 syntax): %v", err))
		}
	case isMap(c.Value):
		errs = append(errs, config.Invalid("value", "want a string, number or boolean, not a table"))
	case isNaN(c.Value):
		errs = append(errs, config.Invalid("value", "nan compares with nothing; want a number"))
	case isList && len(list) == 0:
		errs = append(errs, config.Invalid("value", "operator %s wants at least one value; an empty list matches nothing", c.Operator))
	case isBool(c.Value) && filterOps[c.Operator].ordering():
		errs = append(errs, config.Invalid("value", "operator %s orders numbers and text, not booleans; use == or !=", c.Operator))
	}
	for i, v := range list {
		if _, ok := v.([]any); ok || isMap(v) {
			errs = append(errs, config.Invalid("value", "element %d of the array must be a string, number or boolean", i))
		}
	}
	return errors.Join(errs...)
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

func isBool(v any) bool { _, ok := v.(bool); return ok }

func isNaN(v any) bool { f, ok := v.(float64); return ok && math.IsNaN(f) }

// FilterSpec is the "filter.apply" function.
func FilterSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "filter.apply",
		Plugin:  "filter",
		Summary: "keep the records whose column compares true with value",
		Doc:     filterHelp(),
		Operator: plugin.NewFactory(DefaultFilterConfig, func(_ context.Context, c *FilterConfig, env plugin.Env) (plugin.Operator, error) {
			f, err := NewFilter(c)
			if err == nil {
				telemetry.RegisterTypeMismatch(env.Registerer(), func() int64 { return f.Stats().TypeMismatch })
			}
			return f, err
		}),
	}
}

// Filter keeps records whose column compares true with a constant, as the
// table of `conveyor info filter.apply` (FilterSpec().Doc) says. It counts
// what Apply saw ([Filter.Stats]) and reports it ([Filter.Report]).
type Filter struct {
	path   record.Path
	column string
	op     filterOp
	want   []operand // one, or the elements of an in list
	re     *regexp.Regexp

	operator string // as configured, for reports
	value    any

	counts matchCounts
}

// filterOp is an operator, aliases resolved.
type filterOp uint8

const (
	opEq filterOp = iota
	opNe
	opGt
	opGe
	opLt
	opLe
	opContains
	opIn
	opNotContains
	opNotIn
	opMatches
	opExists
	opNotExists
)

var filterOps = map[string]filterOp{"==": opEq, "=": opEq, "!=": opNe, "<>": opNe, ">": opGt, ">=": opGe,
	"<": opLt, "<=": opLe, "contains": opContains, "in": opIn, "not contains": opNotContains, "not in": opNotIn,
	"matches": opMatches, "exists": opExists, "not exists": opNotExists}

func (o filterOp) ordering() bool { return o >= opGt && o <= opLe }

func (o filterOp) list() bool { return o == opIn || o == opNotIn }

func (o filterOp) noValue() bool { return o == opExists || o == opNotExists }

// operand is a constant prepared for comparison.
type operand = compare.Operand

func newOperand(v any) operand { return compare.NewOperand(v) }

// NewFilter prepares a filter from a validated config.
func NewFilter(c *FilterConfig) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := &Filter{path: record.CompilePath(c.Column), column: c.Column, op: filterOps[c.Operator],
		operator: c.Operator, value: c.Value}
	if f.op == opMatches {
		f.re = regexp.MustCompile(c.Value.(string)) // Validate compiled it
	}
	if list, ok := c.Value.([]any); ok {
		for _, v := range list {
			f.want = append(f.want, newOperand(v))
		}
	} else {
		f.want = []operand{newOperand(c.Value)}
	}
	return f, nil
}

// verdict is what one record got: whether it passes, and whether it lacked
// the column or its comparison was a type mismatch.
type verdict uint8

const (
	pass verdict = 1 << iota
	missingColumn
	typeMismatch
)

func verdictOf(passes, compared bool) verdict {
	var v verdict
	if passes {
		v |= pass
	}
	if !compared {
		v |= typeMismatch
	}
	return v
}

// Apply keeps the records that match, without copying them, and counts
// them: one locked addition per batch, nothing shared per record.
func (f *Filter) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	if len(in) == 0 {
		return out
	}
	kept := len(out)
	var missing, mismatch int64
	for _, r := range in {
		v := f.match(r.Value)
		if v&pass != 0 {
			out = append(out, r)
		}
		if v&missingColumn != 0 {
			missing++
		} else if v&typeMismatch != 0 {
			mismatch++
		}
	}
	f.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(out) - kept), Missing: missing, TypeMismatch: mismatch})
	return out
}

// Match reports whether one record passes. Unlike Apply it counts nothing.
func (f *Filter) Match(value []byte) bool { return f.match(value)&pass != 0 }

func (f *Filter) match(value []byte) verdict {
	field := f.path.Get(value)
	switch {
	case f.op == opExists:
		return verdictOf(field.Exists(), true)
	case f.op == opNotExists:
		return verdictOf(!field.Exists(), true)
	case !field.Exists():
		return missingColumn
	}
	w := &f.want[0]
	switch f.op {
	case opNotIn:
		compared := false
		for i := range f.want {
			eq, ok := compare.Equal(field, &f.want[i])
			if eq {
				return 0
			}
			compared = compared || ok
		}
		return verdictOf(true, compared)
	case opNotContains:
		found, ok := compare.Contains(field, w)
		return verdictOf(!found, ok)
	case opMatches:
		if field.Type != gjson.String {
			return typeMismatch
		}
		return verdictOf(f.re.MatchString(field.Str), true)
	case opEq:
		return verdictOf(compare.Equal(field, w))
	case opNe:
		eq, ok := compare.Equal(field, w)
		return verdictOf(!eq, ok)
	case opIn:
		compared := false
		for i := range f.want {
			eq, ok := compare.Equal(field, &f.want[i])
			if eq {
				return pass
			}
			compared = compared || ok
		}
		return verdictOf(false, compared)
	case opContains:
		return verdictOf(compare.Contains(field, w))
	}
	c, ok := compare.Order(field, w)
	if !ok {
		return typeMismatch
	}
	switch f.op {
	case opGt:
		return verdictOf(c > 0, true)
	case opGe:
		return verdictOf(c >= 0, true)
	case opLt:
		return verdictOf(c < 0, true)
	}
	return verdictOf(c <= 0, true)
}

// Stats returns the counts of the batches Apply has finished; it is safe
// to call while Apply runs.
func (f *Filter) Stats() FilterStats { return f.counts.Stats() }

// Report implements plugin.Reporter. While running it warns when, since the
// last report, the filter saw records but none had its column, or every
// comparison was a type mismatch; at the end it logs the run's counts and
// warns on the same conditions over the whole run.
func (f *Filter) Report(log *zap.Logger, final bool) {
	f.counts.report(log, final, "filter", []zap.Field{zap.String("column", f.column)},
		"filter: no record has the column; check its name (a.b reads a nested field)",
		"filter: every comparison was a type mismatch; see `conveyor info filter.apply`",
		zap.String("operator", f.operator), zap.Any("value", f.value))
}
