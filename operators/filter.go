package operators

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

func init() { plugin.MustRegister(FilterSpec()) }

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
	}
	for i, v := range list {
		if _, ok := v.([]any); ok || isMap(v) {
			errs = append(errs, config.Invalid("value", "element %d of the array must be a string, number or boolean", i))
		}
	}
	return errors.Join(errs...)
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

func isNaN(v any) bool { f, ok := v.(float64); return ok && math.IsNaN(f) }

// FilterSpec is the "filter.apply" function.
func FilterSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "filter.apply",
		Plugin:  "filter",
		Summary: "keep the records whose column compares true with value",
		Operator: plugin.NewFactory(DefaultFilterConfig, func(c *FilterConfig, _ plugin.Env) (plugin.Operator, error) {
			return NewFilter(c)
		}),
	}
}

// Filter keeps records whose column compares true with a constant. A record
// without the column never passes, whatever the operator.
type Filter struct {
	path record.Path
	op   string
	want []operand // one, or the elements of an in list
}

// operand is a constant prepared for comparison.
type operand struct {
	text  string
	num   float64
	isNum bool
	isStr bool // written as a string (so "100" is both text and number)
	b     bool
	isB   bool
}

func newOperand(v any) operand {
	switch x := v.(type) {
	case string:
		o := operand{text: x, isStr: true}
		if f, ok := parseNum(x); ok {
			o.num, o.isNum = f, true
		}
		if b, err := strconv.ParseBool(x); err == nil {
			o.b, o.isB = b, true
		}
		return o
	case int64:
		return operand{text: strconv.FormatInt(x, 10), num: float64(x), isNum: true}
	case float64:
		return operand{text: strconv.FormatFloat(x, 'g', -1, 64), num: x, isNum: true}
	case bool:
		return operand{text: strconv.FormatBool(x), b: x, isB: true}
	}
	return operand{text: fmt.Sprint(v)}
}

// NewFilter prepares a filter from a validated config.
func NewFilter(c *FilterConfig) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := &Filter{path: record.CompilePath(c.Column), op: c.Operator}
	switch f.op {
	case "=":
		f.op = "=="
	case "<>":
		f.op = "!="
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

// Apply keeps the records that match, without copying them.
func (f *Filter) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	for _, r := range in {
		if f.Match(r.Value) {
			out = append(out, r)
		}
	}
	return out
}

// Match reports whether one record passes.
func (f *Filter) Match(value []byte) bool {
	field := f.path.Get(value)
	if !field.Exists() {
		return false
	}
	switch f.op {
	case "==":
		return equal(field, f.want[0])
	case "!=":
		return !equal(field, f.want[0])
	case "in":
		for _, w := range f.want {
			if equal(field, w) {
				return true
			}
		}
		return false
	case "contains":
		return contains(field, f.want[0])
	default:
		c, ok := compare(field, f.want[0])
		if !ok {
			return false
		}
		switch f.op {
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "<":
			return c < 0
		default:
			return c <= 0
		}
	}
}

// fieldNum reads a field as a number: a JSON number, or a string holding one.
func fieldNum(r gjson.Result) (float64, bool) {
	switch r.Type {
	case gjson.Number:
		return r.Num, true
	case gjson.String:
		return parseNum(r.Str)
	}
	return 0, false
}

// parseNum reads a string holding a number (spaces around it allowed; out
// of range gives ±Inf). "NaN" is not a number here: it would compare
// neither smaller, larger nor equal, and pass >= and <= by default.
func parseNum(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, !math.IsNaN(f)
}

func equal(r gjson.Result, w operand) bool {
	switch r.Type {
	case gjson.Number:
		return w.isNum && r.Num == w.num
	case gjson.String:
		if w.isStr || w.isB {
			return r.Str == w.text
		}
		n, ok := fieldNum(r)
		return ok && w.isNum && n == w.num
	case gjson.True, gjson.False:
		return w.isB && r.Bool() == w.b
	case gjson.Null:
		return w.isStr && w.text == "null"
	}
	return w.isStr && r.Raw == w.text
}

// compare orders a field against w: numerically when both are numbers (a
// numeric string counts), as text when both are strings.
func compare(r gjson.Result, w operand) (int, bool) {
	if n, ok := fieldNum(r); ok && w.isNum {
		switch {
		case n < w.num:
			return -1, true
		case n > w.num:
			return 1, true
		}
		return 0, true
	}
	if r.Type == gjson.String && w.isStr {
		return strings.Compare(r.Str, w.text), true
	}
	return 0, false
}

func contains(r gjson.Result, w operand) bool {
	switch {
	case r.Type == gjson.String:
		return strings.Contains(r.Str, w.text)
	case r.IsArray():
		found := false
		r.ForEach(func(_, el gjson.Result) bool {
			found = equal(el, w)
			return !found
		})
		return found
	}
	return false
}
