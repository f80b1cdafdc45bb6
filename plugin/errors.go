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

// ErrCutOff marks a write or an operator call that did not finish because
// the run or the source's claim on the batch ended first: a stop whose
// drain timed out, or a rebalance that moved the batch's partition to
// another member. A cut-off is not a record failure: the runtime never
// hands it to [error_handling] (no retry, no dead-letter entry, nothing
// counted failed), never acks the batch, and so never commits its
// offsets; the batch is read again, here or by the partition's next owner.
//
// The runtime takes any error of a write whose context had ended as a
// cut-off, so a Sink or a foreign Publisher needs to do nothing; a Sink
// that knows it was cut off another way (closed under a write, say) wraps
// this sentinel with %w or uses [CutOff].
var ErrCutOff = errors.New("cut off before it was done: not committed, read again")

// CutOff marks err as a cut-off (see [ErrCutOff]) without changing its
// text; errors.Is and errors.As still see err. CutOff(nil) is nil.
func CutOff(err error) error {
	if err == nil || IsCutOff(err) {
		return err
	}
	return cutOff{err}
}

// IsCutOff reports whether err, or an error it wraps, is a cut-off.
func IsCutOff(err error) bool { return errors.Is(err, ErrCutOff) }

type cutOff struct{ err error }

func (c cutOff) Error() string   { return c.err.Error() }
func (c cutOff) Unwrap() []error { return []error{c.err, ErrCutOff} }
