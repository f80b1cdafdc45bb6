package operators

import (
	"sync"

	"go.uber.org/zap"
)

// FilterStats are a filter stage's counts since it was built. Every record
// Apply saw is in Seen; one that lacked the column (filter.expr: a field
// the condition reads) is in Missing, one whose comparison was a type
// mismatch in TypeMismatch (it may still pass: !=).
type FilterStats struct {
	Seen, Passed, Missing, TypeMismatch int64
}

func (s FilterStats) plus(o FilterStats) FilterStats {
	return FilterStats{Seen: s.Seen + o.Seen, Passed: s.Passed + o.Passed, Missing: s.Missing + o.Missing, TypeMismatch: s.TypeMismatch + o.TypeMismatch}
}

func (s FilterStats) minus(o FilterStats) FilterStats {
	return s.plus(FilterStats{Seen: -o.Seen, Passed: -o.Passed, Missing: -o.Missing, TypeMismatch: -o.TypeMismatch})
}

// matchCounts are the counts of a stage that tests records (filter.apply,
// filter.expr) or reads fields of them (fields.*, json.extract). They are
// added once per batch, under mu, so that a report reads them as of a
// batch boundary (independent atomics could pair one batch's seen with
// another's missing and warn wrongly).
type matchCounts struct {
	mu       sync.Mutex
	counts   FilterStats
	reported FilterStats // the counts at the last periodic report; only report uses it
}

func (c *matchCounts) add(s FilterStats) {
	c.mu.Lock()
	c.counts = c.counts.plus(s)
	c.mu.Unlock()
}

// Stats returns the counts of the batches finished so far; safe to call
// while Apply runs.
func (c *matchCounts) Stats() FilterStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts
}

// report implements plugin.Reporter for a stage: while running it warns
// (missingMsg) when, since the last report, the stage saw records but every
// one lacked what it reads, or (mismatchMsg) every comparison was a type
// mismatch; at the end it logs the run's counts under name and warns on the
// same conditions over the whole run. what names the stage's subject (its
// column, condition or fields); more goes with the mismatch warning.
func (c *matchCounts) report(log *zap.Logger, final bool, name string, what []zap.Field, missingMsg, mismatchMsg string, more ...zap.Field) {
	now := c.Stats()
	window := now.minus(c.reported)
	c.reported = now
	if final {
		window = now
		log.Info(name+" counts", append(what, zap.Int64("seen", now.Seen), zap.Int64("passed", now.Passed),
			zap.Int64("missing", now.Missing), zap.Int64("type_mismatch", now.TypeMismatch))...)
	}
	switch {
	case window.Seen == 0:
	case window.Missing == window.Seen && missingMsg != "":
		log.Warn(missingMsg, append(what, zap.Int64("seen", window.Seen), zap.Bool("final", final))...)
	case window.TypeMismatch == window.Seen-window.Missing && window.TypeMismatch > 0 && mismatchMsg != "":
		log.Warn(mismatchMsg, append(append(what, more...), zap.Int64("seen", window.Seen),
			zap.Int64("missing", window.Missing), zap.Int64("type_mismatch", window.TypeMismatch), zap.Bool("final", final))...)
	}
}
