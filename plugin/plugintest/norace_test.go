//go:build !race

package plugintest_test

import (
	"runtime"
	"testing"

	"github.com/conveyor-etl/conveyor/plugin"
	"github.com/conveyor-etl/conveyor/plugin/plugintest"
)

// scratch keeps its output in a buffer of its own between calls: called
// from several goroutines at once, they write over one another's. (Under
// -race the race detector catches it first, failing the test; hence
// !race.)
type scratch struct{ buf []plugin.Record }

func (s *scratch) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	s.buf = evens(in, s.buf[:0], fail)
	runtime.Gosched()
	return append(out, s.buf...)
}

func TestUnsafeOperatorDouble(t *testing.T) {
	wantFailed(t, plugintest.CheckOperator(plugintest.OperatorCase{New: func(testing.TB) plugin.Operator { return &scratch{} }}), "concurrent")
}
