package pipetest

import (
	"errors"

	"github.com/conveyor-etl/conveyor/internal/expr"
)

// evalCondition reports whether the expression src (see internal/expr) is
// true of the record v. A field it reads that v lacks, or a comparison of
// types that do not compare, makes it false and is said.
func evalCondition(src string, v []byte) (bool, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return false, err
	}
	ok, out := p.Bool(v)
	switch {
	case ok:
		return true, nil
	case out&expr.Missing != 0:
		return false, errors.New("false: a field it reads is missing")
	case out&expr.Mismatch != 0:
		return false, errors.New("false: it compares values of types that do not compare")
	}
	return false, nil
}
