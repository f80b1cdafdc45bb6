// Package errkind marks an error with the sentinels of its kind (a
// connector's exported ErrX) without changing its text, so that the message
// a user reads stays what the code wrote while errors.Is matches the
// sentinels too.
package errkind

// Mark returns err, same text, that errors.Is and errors.As also match
// against each of kinds; nil and an error with no kinds stay as they are.
func Mark(err error, kinds ...error) error {
	if err == nil || len(kinds) == 0 {
		return err
	}
	return &marked{err: err, kinds: kinds}
}

type marked struct {
	err   error
	kinds []error
}

func (e *marked) Error() string { return e.err.Error() }

// Unwrap gives err first, so errors.As finds its types before the kinds'.
func (e *marked) Unwrap() []error { return append([]error{e.err}, e.kinds...) }
