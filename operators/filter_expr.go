package operators

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// FilterExprConfig is the config of "filter.expr".
type FilterExprConfig struct {
	Condition string `key:"condition" required:"true" doc:"expression over the record's fields that keeps a record when true, such as amount >= 100 && event in ['purchase', 'refund'] (see the README's Expressions)"`

	prog *expr.Program // compiled by Validate
}

// DefaultFilterExprConfig returns the (empty) defaults.
func DefaultFilterExprConfig() *FilterExprConfig { return &FilterExprConfig{} }

// Validate compiles the condition; an error names the column inside it.
func (c *FilterExprConfig) Validate() error {
	p, err := compileKey("condition", c.Condition)
	c.prog = p
	return err
}

// compileKey compiles the expression of a config key, its error reported
// at the key.
func compileKey(key, src string) (*expr.Program, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return nil, config.Invalid(key, "%v", err)
	}
	return p, nil
}

// FilterExprSpec is the "filter.expr" function.
func FilterExprSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "filter.expr",
		Plugin:  "filter",
		Summary: "keep the records for which an expression is true",
		Doc: "The condition is an expression (README: Expressions): fields are variables (amount, address.country,\n" +
			"_kafka_key), comparisons follow filter.apply's table (a numeric string compares as a number). A comparison\n" +
			"with a missing field is false (!= and not in too), counted as missing; one whose types do not compare is\n" +
			"false (!= true), counted in conveyor_type_mismatch_total. Records that pass go on unchanged.\n",
		Operator: plugin.NewFactory(DefaultFilterExprConfig, func(_ context.Context, c *FilterExprConfig, env plugin.Env) (plugin.Operator, error) {
			f, err := NewFilterExpr(c)
			if err == nil {
				telemetry.RegisterTypeMismatch(env.Registerer(), func() int64 { return f.Stats().TypeMismatch })
			}
			return f, err
		}),
	}
}

// FilterExpr keeps the records for which its condition is true, without
// copying them, and counts them as [Filter] does.
type FilterExpr struct {
	prog   *expr.Program
	counts matchCounts
}

// NewFilterExpr prepares a filter from a config.
func NewFilterExpr(c *FilterExprConfig) (*FilterExpr, error) {
	if c.prog == nil {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	if c.prog == nil {
		return nil, errors.New("filter.expr: no condition")
	}
	return &FilterExpr{prog: c.prog}, nil
}

// Apply keeps the records that match; one locked addition per batch.
func (f *FilterExpr) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	if len(in) == 0 {
		return out
	}
	kept := len(out)
	var missing, mismatch int64
	for _, r := range in {
		ok, o := f.prog.Bool(r.Value)
		if ok {
			out = append(out, r)
		}
		missing, mismatch = count(o, missing, mismatch)
	}
	f.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(out) - kept), Missing: missing, TypeMismatch: mismatch})
	return out
}

// count adds one record's outcome: missing first, as filter.apply counts.
func count(o expr.Outcome, missing, mismatch int64) (int64, int64) {
	switch {
	case o&expr.Missing != 0:
		missing++
	case o&expr.Mismatch != 0:
		mismatch++
	}
	return missing, mismatch
}

// Stats returns the counts of the batches Apply has finished.
func (f *FilterExpr) Stats() FilterStats { return f.counts.Stats() }

// Report implements plugin.Reporter, as [Filter.Report] does.
func (f *FilterExpr) Report(log *zap.Logger, final bool) {
	f.counts.report(log, final, "filter.expr", []zap.Field{zap.String("condition", f.prog.String())},
		"filter.expr: every record lacked a field the condition reads; check the names (a.b reads a nested field)",
		"filter.expr: every record met a type mismatch; see `conveyor info filter.expr`")
}
