package window

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// Func is an aggregate function.
type Func uint8

// The aggregate functions, by the names the aggregates table uses.
const (
	Count Func = iota
	Sum
	Min
	Max
	Avg
	First
	Last
	CountDistinct
)

var funcNames = [...]string{Count: "count", Sum: "sum", Min: "min", Max: "max", Avg: "avg",
	First: "first", Last: "last", CountDistinct: "count_distinct"}

func (f Func) String() string { return funcNames[f] }

// Aggregate is one compiled entry of a stage's aggregates table, such as
// revenue = "sum(amount)".
type Aggregate struct {
	Name  string // the output field
	Func  Func
	Field string // the argument, a field path; "" only for count()
	path  record.Path
}

// ParseAggregate compiles one aggregate: "count()", "count(field)" (the
// records where field is present and not null), "sum(field)",
// "min(field)", "max(field)", "avg(field)", "first(field)",
// "last(field)" or "count_distinct(field)", where field is a field path
// as elsewhere in a pipeline ("amount", "user.id"; see
// record.CompilePath).
func ParseAggregate(name, spec string) (Aggregate, error) {
	s := strings.TrimSpace(spec)
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Aggregate{}, fmt.Errorf("%q is not a function call like sum(amount)", spec)
	}
	fn := strings.TrimSpace(s[:open])
	arg := strings.TrimSpace(s[open+1 : len(s)-1])
	i := slices.Index(funcNames[:], fn)
	if i < 0 {
		hint := ""
		if c := config.Closest(fn, funcNames[:]); c != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", c)
		}
		return Aggregate{}, fmt.Errorf("unknown function %q in %q%s; the functions are %s",
			fn, spec, hint, strings.Join(funcNames[:], ", "))
	}
	f := Func(i)
	if arg == "" && f != Count {
		return Aggregate{}, fmt.Errorf("%s() needs a field, as in %s(amount)", fn, fn)
	}
	if err := checkField(arg); err != nil {
		return Aggregate{}, fmt.Errorf("%q: %w", spec, err)
	}
	return Aggregate{Name: name, Func: f, Field: arg, path: record.CompilePath(arg)}, nil
}

// checkField accepts a field path: names of letters, digits, '_', '-',
// '$' or ':' (or non-ASCII) joined by '.'.
func checkField(f string) error {
	if f == "" {
		return nil
	}
	for _, part := range strings.Split(f, ".") {
		if part == "" {
			return fmt.Errorf("field %q has an empty name between dots", f)
		}
		for _, c := range part {
			ok := c == '_' || c == '-' || c == '$' || c == ':' || c > 127 ||
				'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
			if !ok {
				return fmt.Errorf("field %q: %q is not allowed in a field path (only one field, no expression)", f, c)
			}
		}
	}
	return nil
}

// Set is the compiled aggregates table of a stage, in output order (by
// name, since a TOML table has no order).
type Set struct{ aggs []Aggregate }

// ParseSet compiles an aggregates table (output name -> spec). Its error
// joins one config.Invalid per bad entry, of the key "aggregates.<name>".
func ParseSet(table map[string]string) (*Set, error) {
	if len(table) == 0 {
		return nil, config.Invalid("aggregates", "at least one is needed, as in orders = \"count()\"")
	}
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	s := &Set{aggs: make([]Aggregate, 0, len(names))}
	var errs []error
	for _, n := range names {
		a, err := ParseAggregate(n, table[n])
		if err != nil {
			errs = append(errs, config.Invalid("aggregates."+n, "%v", err))
			continue
		}
		s.aggs = append(s.aggs, a)
	}
	return s, errors.Join(errs...)
}

// Aggregates returns the set's aggregates in output order.
func (s *Set) Aggregates() []Aggregate { return s.aggs }
