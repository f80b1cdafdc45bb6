package plugin

import "errors"

// ErrPermanent marks an error that trying again cannot fix: the same record
// through the same code fails the same way (a record too large for the
// topic, JSON an operator can never parse, a panic). Under
// [error_handling] strategy = "retry" a record that failed with a
// permanent error is not retried: it goes straight to the dead-letter queue
// (or stops the run when there is none). Other errors are taken as
// transient (a broker outage, a timeout) and retried.
//
// An operator or sink marks an error with [Permanent], or wraps the
// sentinel with %w:
//
//	fail(i, fmt.Errorf("field %q is not a date: %w", name, plugin.ErrPermanent))
var ErrPermanent = errors.New("permanent error")

// Permanent marks err as permanent (see [ErrPermanent]) without changing
// its text; errors.Is and errors.As still see err. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return permanent{err}
}

// IsPermanent reports whether err, or an error it wraps, is marked
// permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

type permanent struct{ err error }

func (p permanent) Error() string   { return p.err.Error() }
func (p permanent) Unwrap() []error { return []error{p.err, ErrPermanent} }
