package operators

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"

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
	Operator string `key:"operator" required:"true" enum:"==,=,!=,<>,>,>=,<,<=,contains,in" doc:"comparison: == = != <> > >= < <= contains in"`
	Value    any    `key:"value" required:"true" doc:"value to compare with: a string, number or boolean (\"100\" compares as a number with a numeric field); an array for in"`
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
	list, isList := c.Value.([]any)
	switch {
	case c.Operator == "in" && !isList:
		errs = append(errs, config.Invalid("value", "operator in wants an array, such as [\"a\", \"b\"]"))
	case c.Operator != "in" && isList:
		errs = append(errs, config.Invalid("value", "an array is only allowed with operator in"))
	case isMap(c.Value):
		errs = append(errs, config.Invalid("value", "want a string, number or boolean, not a table"))
	case isNaN(c.Value):
		errs = append(errs, config.Invalid("value", "nan compares with nothing; want a number"))
	case isList && len(list) == 0:
		errs = append(errs, config.Invalid("value", "operator in wants at least one value; an empty list matches nothing"))
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

	operator string // as configured, for reports
	value    any

	// counts are added once per batch, under mu, so that a report reads
	// them as of a batch boundary (independent atomics could pair one
	// batch's seen with another's missing and warn wrongly).
	mu       sync.Mutex
	counts   FilterStats
	reported FilterStats // the counts at the last periodic Report; only Report uses it
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
)

var filterOps = map[string]filterOp{"==": opEq, "=": opEq, "!=": opNe, "<>": opNe, ">": opGt, ">=": opGe,
	"<": opLt, "<=": opLe, "contains": opContains, "in": opIn}

func (o filterOp) ordering() bool { return o >= opGt && o <= opLe }

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
	f.mu.Lock()
	f.counts = f.counts.plus(FilterStats{Seen: int64(len(in)), Passed: int64(len(out) - kept), Missing: missing, TypeMismatch: mismatch})
	f.mu.Unlock()
	return out
}

// Match reports whether one record passes. Unlike Apply it counts nothing.
func (f *Filter) Match(value []byte) bool { return f.match(value)&pass != 0 }

func (f *Filter) match(value []byte) verdict {
	field := f.path.Get(value)
	if !field.Exists() {
		return missingColumn
	}
	w := &f.want[0]
	switch f.op {
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

// FilterStats are a filter stage's counts since it was built. Every record
// Apply saw is in Seen; one that lacked the column is in Missing, one whose
// comparison was a type mismatch in TypeMismatch (it may still pass: !=).
type FilterStats struct {
	Seen, Passed, Missing, TypeMismatch int64
}

// Stats returns the counts of the batches Apply has finished; it is safe
// to call while Apply runs.
func (f *Filter) Stats() FilterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

func (s FilterStats) plus(o FilterStats) FilterStats {
	return FilterStats{Seen: s.Seen + o.Seen, Passed: s.Passed + o.Passed, Missing: s.Missing + o.Missing, TypeMismatch: s.TypeMismatch + o.TypeMismatch}
}

func (s FilterStats) minus(o FilterStats) FilterStats {
	return s.plus(FilterStats{Seen: -o.Seen, Passed: -o.Passed, Missing: -o.Missing, TypeMismatch: -o.TypeMismatch})
}

// Report implements plugin.Reporter. While running it warns when, since the
// last report, the filter saw records but none had its column, or every
// comparison was a type mismatch; at the end it logs the run's counts and
// warns on the same conditions over the whole run.
func (f *Filter) Report(log *zap.Logger, final bool) {
	now := f.Stats()
	window := now.minus(f.reported)
	f.reported = now
	if final {
		window = now
		log.Info("filter counts", zap.String("column", f.column), zap.Int64("seen", now.Seen), zap.Int64("passed", now.Passed),
			zap.Int64("missing", now.Missing), zap.Int64("type_mismatch", now.TypeMismatch))
	}
	switch {
	case window.Seen == 0:
	case window.Missing == window.Seen:
		log.Warn("filter: no record has the column; check its name (a.b reads a nested field)",
			zap.String("column", f.column), zap.Int64("seen", window.Seen), zap.Bool("final", final))
	case window.TypeMismatch == window.Seen-window.Missing:
		log.Warn("filter: every comparison was a type mismatch; see `conveyor info filter.apply`",
			zap.String("column", f.column), zap.String("operator", f.operator), zap.Any("value", f.value), zap.Int64("seen", window.Seen),
			zap.Int64("missing", window.Missing), zap.Int64("type_mismatch", window.TypeMismatch), zap.Bool("final", final))
	}
}
