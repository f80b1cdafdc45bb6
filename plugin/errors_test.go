package plugin_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/conveyor-etl/conveyor/plugin"
)

func TestPermanent(t *testing.T) {
	if plugin.Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	err := plugin.Permanent(io.ErrUnexpectedEOF)
	if !plugin.IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) || err.Error() != io.ErrUnexpectedEOF.Error() {
		t.Errorf("Permanent(%v) = %v: want it permanent, wrapping the error, with its text", io.ErrUnexpectedEOF, err)
	}
	if plugin.Permanent(err) != err {
		t.Error("marking a permanent error again wraps it again")
	}
	if !plugin.IsPermanent(fmt.Errorf("field %q: %w", "ts", plugin.ErrPermanent)) {
		t.Error("an error wrapping ErrPermanent is not permanent")
	}
	if plugin.IsPermanent(io.ErrUnexpectedEOF) || plugin.IsPermanent(nil) {
		t.Error("an unmarked error is permanent")
	}
}
