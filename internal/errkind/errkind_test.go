package errkind

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestMark(t *testing.T) {
	kind, other := errors.New("kind"), errors.New("other")
	cause := fmt.Errorf("open x: %w", fs.ErrNotExist)
	err := Mark(cause, kind)
	if err.Error() != cause.Error() {
		t.Errorf("text %q, want %q", err, cause)
	}
	if !errors.Is(err, kind) || !errors.Is(err, fs.ErrNotExist) || errors.Is(err, other) {
		t.Errorf("errors.Is: kind %v, cause %v, other %v; want true, true, false",
			errors.Is(err, kind), errors.Is(err, fs.ErrNotExist), errors.Is(err, other))
	}
	if wrapped := fmt.Errorf("stage: %w", err); !errors.Is(wrapped, kind) {
		t.Error("the kind is lost when the marked error is wrapped again")
	}
	if Mark(nil, kind) != nil || Mark(cause) != cause {
		t.Error("Mark(nil) or Mark with no kinds changed its error")
	}
}
