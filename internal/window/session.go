package window

// touches reports whether two session windows merge: they overlap or meet
// end to start, as Flink's TimeWindow.intersects. So with gap_ms 30000,
// records at 0 and 30000 are one session [0, 60000).
func (w Window) touches(o Window) bool { return w.Start <= o.End && o.Start <= w.End }

// MergeSession merges the session window w of a new record (Spec.Assign's
// [t, t+gap)) with a key's open sessions, which must be sorted by Start and
// pairwise apart (as MergeSession keeps them). It returns the merged
// window and the range open[from:to] of sessions it absorbs (from == to:
// none, w starts a session of its own at index from). The caller replaces
// open[from:to] by merged and merges their aggregate states (Set.Merge).
func MergeSession(open []Window, w Window) (merged Window, from, to int) {
	from = len(open)
	for i, o := range open {
		if o.End >= w.Start {
			from = i
			break
		}
	}
	merged, to = w, from
	for to < len(open) && open[to].touches(w) {
		merged.Start = min(merged.Start, open[to].Start)
		merged.End = max(merged.End, open[to].End)
		to++
	}
	return merged, from, to
}
