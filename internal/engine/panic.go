package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
)

// panicError is a panic recovered from an operator or a sink. It is
// permanent: the same record through the same code panics again.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// Unwrap makes the error permanent and, when the panic's value is an error
// (a runtime error, say), lets errors.As find it.
func (e *panicError) Unwrap() []error {
	if err, ok := e.value.(error); ok {
		return []error{err, plugin.ErrPermanent}
	}
	return []error{plugin.ErrPermanent}
}

// recovered turns the value of recover() into an error, nil for nil. Call
// it in the deferred function itself, so that the stack is the panic's.
func recovered(v any) error {
	if v == nil {
		return nil
	}
	return &panicError{value: v, stack: debug.Stack()}
}

// stackField is the stack of a recovered panic in err, for the log; a
// no-op field when err holds none.
func stackField(err error) zap.Field {
	var pe *panicError
	if errors.As(err, &pe) {
		return zap.ByteString("stack", pe.stack)
	}
	return zap.Skip()
}

// safeApply is op.Apply with a panic returned as an error (and no output).
func safeApply(op plugin.Operator, in, out []plugin.Record, fail func(int, error)) (res []plugin.Record, err error) {
	defer func() { err = recovered(recover()) }()
	return op.Apply(in, out, fail), nil
}

// safePending is a Pending whose Wait reports a panic as an error.
type safePending struct{ p plugin.Pending }

func (s safePending) Wait(ctx context.Context) (err error) {
	defer func() {
		if perr := recovered(recover()); perr != nil {
			err = perr
		}
	}()
	return s.p.Wait(ctx)
}
