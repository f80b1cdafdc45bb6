package engine

import (
	"maps"
	"testing"
)

// drainedRepartition answers Drained as a read_committed reader's topic
// would: what lies in [from, end) of a partition is only commit markers
// when from is at least marker[p].
type drainedRepartition struct {
	fakeRepartition
	marker map[int32]int64
	asked  *int
}

func (d drainedRepartition) Drained(p int32, from, end int64) (bool, error) {
	*d.asked++
	return from >= end || from >= d.marker[p], nil
}

// A bounded run's reader stops when it has read every partition to the end
// offsets it had: under exactly-once the last offsets of a partition are
// commit markers, which it is never handed, so a partition it read up to
// them (and read nothing more of since the last look) counts as read to
// its end; the topic is not asked while the reader still moves, nor for a
// partition it has read nothing of.
func TestReaderCaughtUpPastCommitMarkers(t *testing.T) {
	asked := 0
	rp := &repartitioned{rp: drainedRepartition{marker: map[int32]int64{0: 10, 1: 20}, asked: &asked}, read: map[int32]int64{}}
	ends := map[int32]int64{0: 11, 1: 21, 2: 5}
	seen := map[int32]int64{}
	look := func(want bool) {
		t.Helper()
		up, err := rp.caughtUp(ends, seen)
		if err != nil || up != want {
			t.Fatalf("caughtUp = %v, %v with read %v of %v; want %v", up, err, rp.read, ends, want)
		}
	}
	rp.read[0], rp.read[2] = 10, 5
	look(false) // partition 0 first seen at 10, partition 1 not read at all
	if asked != 0 {
		t.Fatalf("Drained asked %d times before the reader stood still", asked)
	}
	look(false) // partition 0 stands still at its marker: read; 1 still unread
	if asked != 1 || ends[0] != 10 {
		t.Fatalf("asked %d, ends %v; want partition 0 asked once and its end taken at 10", asked, ends)
	}
	rp.read[1] = 15
	look(false)
	rp.read[1] = 19
	look(false) // moved since the last look: not asked
	before := maps.Clone(ends)
	look(false) // stands still at 19, below its marker at 20: more to come
	if !maps.Equal(before, ends) {
		t.Fatalf("ends %v changed to %v for a partition with records left", before, ends)
	}
	rp.read[1] = 20
	look(false)
	look(true)
}
