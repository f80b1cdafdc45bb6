package operators_test

import (
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/plugin"
)

func records(values ...string) []plugin.Record {
	out := make([]plugin.Record, len(values))
	for i, v := range values {
		out[i] = plugin.Record{Value: []byte(v), Offset: int64(i)}
	}
	return out
}

// TestFilterReport checks when a filter warns: over the records seen since
// the last periodic report, or over the run at the end.
func TestFilterReport(t *testing.T) {
	tests := []struct {
		name                   string
		column, op, value      string
		batches                [][]plugin.Record // one periodic report after each
		wantPeriodic, wantLast []string          // warning messages, "" for none
	}{
		{"typo in column", "amout", ">=", `100`,
			[][]plugin.Record{records(`{"amount":150}`, `{"amount":50}`), nil},
			[]string{"no record has the column", ""}, []string{"no record has the column"}},
		{"text value on numbers", "amount", ">=", `"abc"`,
			[][]plugin.Record{records(`{"amount":150}`, `{"x":1}`)},
			[]string{"every comparison was a type mismatch"}, []string{"every comparison was a type mismatch"}},
		{"!= that only mismatches passes all and is warned about", "amount", "!=", `"abc"`,
			[][]plugin.Record{records(`{"amount":150}`, `{"amount":true}`)},
			[]string{"every comparison was a type mismatch"}, []string{"every comparison was a type mismatch"}},
		{"matches", "amount", ">=", `"100"`,
			[][]plugin.Record{records(`{"amount":150}`, `{"amount":"n/a"}`, `{"x":1}`)},
			[]string{""}, []string{""}},
		{"one comparison in a minute is enough", "amount", ">=", `100`,
			[][]plugin.Record{records(`{"amount":"n/a"}`, `{"x":1}`, `{"amount":5}`)},
			[]string{""}, []string{""}},
		{"a bad minute after a good one", "amount", ">=", `100`,
			[][]plugin.Record{records(`{"amount":150}`), records(`{"x":1}`)},
			[]string{"", "no record has the column"}, []string{""}},
		{"nothing seen", "amount", ">=", `100`,
			[][]plugin.Record{nil},
			[]string{""}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFilter(t, tt.column, tt.op, tt.value)
			for i, b := range tt.batches {
				f.Apply(b, nil, nil)
				checkReport(t, func(log *zap.Logger) { f.Report(log, false) }, tt.wantPeriodic[i], tt.column)
			}
			checkReport(t, func(log *zap.Logger) { f.Report(log, true) }, tt.wantLast[0], tt.column)
		})
	}
}

// checkReport runs report and checks that it warned with want in the
// message (or not at all when want is "").
func checkReport(t *testing.T, report func(*zap.Logger), want, column string) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	report(zap.New(core))
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	switch {
	case want == "" && len(warns) > 0:
		t.Errorf("warned %q", warns[0].Message)
	case want != "" && (len(warns) != 1 || !strings.Contains(warns[0].Message, want) || warns[0].ContextMap()["column"] != column):
		t.Errorf("warnings %v; want one saying %q about column %s", warns, want, column)
	}
}

// TestFilterCountsConcurrent runs Apply on several goroutines while
// periodic reports read the counts (run with -race), and checks the totals.
func TestFilterCountsConcurrent(t *testing.T) {
	f := mustFilter(t, "amount", ">=", `100`)
	batch := records(`{"amount":150}`, `{"amount":"n/a"}`, `{"x":1}`, `{"amount":5}`, `{"amount":"200"}`)
	const workers, batches = 4, 200
	done := make(chan struct{})
	reports := make(chan struct{})
	go func() {
		defer close(reports)
		for {
			select {
			case <-done:
				return
			default:
				f.Report(zap.NewNop(), false)
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]plugin.Record, 0, len(batch))
			for range batches {
				out = f.Apply(batch, out[:0], nil)
			}
		}()
	}
	wg.Wait()
	close(done)
	<-reports
	n := int64(workers * batches)
	if got, want := f.Stats(), (operators.FilterStats{Seen: 5 * n, Passed: 2 * n, Missing: n, TypeMismatch: n}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}
