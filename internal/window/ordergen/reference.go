package ordergen

// WindowKey names one expected output window: a country and the start of
// a tumbling window (ms).
type WindowKey struct {
	Country string
	Start   int64
}

// Totals is a window's expected count of orders and sum of amounts.
type Totals struct {
	Count int64
	Cents int64
}

// Expected is what a tumbling count and sum of amount by country must
// give over a set of events.
type Expected struct {
	Windows map[WindowKey]Totals
	// Late holds the order IDs of the late events: those whose partition
	// had, before them, already reached the end of their window plus
	// grace.
	Late map[string]bool
}

// Reference computes the expected windows of tumbling windows of size ms
// with grace ms, by the per-partition rule: reading each partition in
// offset order, an event is late when the greatest event time before it
// in its partition is at or past its window's end plus grace; every other
// event counts in its window. It is written plainly, for checking
// internal/window, and assumes times after the epoch.
func Reference(evs []Event, size, grace int64) Expected {
	exp := Expected{Windows: map[WindowKey]Totals{}, Late: map[string]bool{}}
	for _, part := range ByPartition(evs) {
		seen := false
		var greatest int64
		for _, e := range part {
			start := e.Time - e.Time%size
			end := start + size
			if seen && greatest >= end+grace {
				exp.Late[e.OrderID] = true
			} else {
				k := WindowKey{e.Country, start}
				t := exp.Windows[k]
				t.Count++
				t.Cents += e.Amount
				exp.Windows[k] = t
			}
			if !seen || e.Time > greatest {
				greatest, seen = e.Time, true
			}
		}
	}
	return exp
}
