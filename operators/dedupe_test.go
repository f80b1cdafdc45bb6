package operators

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// dedupeOut runs values through dedupe.apply in batches of size records
// (one partition, state in memory) and returns the values it let through.
func dedupeOut(t *testing.T, c *DedupeConfig, values []string, size int) []string {
	t.Helper()
	d, err := NewDedupe(c)
	if err != nil {
		t.Fatal(err)
	}
	st := state.New("d", d, nil)
	var out []string
	for i := 0; i < len(values); i += size {
		var b plugin.Batch
		for j := i; j < min(i+size, len(values)); j++ {
			b.Records = append(b.Records, plugin.Record{Value: []byte(values[j]), Offset: int64(j)})
		}
		res, err := st.Apply(context.Background(), b, func(i int, err error) { t.Errorf("record %d failed: %v", i, err) })
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Pending.Write(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Out {
			out = append(out, string(r.Value))
		}
	}
	return out
}

// An identity is forgotten once the partition's event time reaches its
// first record's time + ttl_ms, however the input is batched: id 1 first
// at 18:00:30 with a ttl of 2 minutes is forgotten at 18:02:30, which the
// record of id 2 at 18:03:21 passed, so id 1 at 18:03:22 is new again (and
// remembered from then: its copy at 18:03:30 is dropped).
func TestDedupeSameOutputAnyBatching(t *testing.T) {
	c := &DedupeConfig{Key: "id", TTL: 2 * time.Minute, TimeField: "ts"}
	rec := func(id int, ts string) string { return fmt.Sprintf(`{"id":%d,"ts":"2026-12-07T%sZ"}`, id, ts) }
	in := []string{rec(1, "18:00:30"), rec(2, "18:03:21"), rec(1, "18:03:22"), rec(1, "18:03:30"), rec(2, "18:04:00")}
	want := []string{in[0], in[1], in[2]}
	for _, size := range []int{1, 2, 3, 1000} {
		if got := dedupeOut(t, c, in, size); !slices.Equal(got, want) {
			t.Errorf("batches of %d: out\n%q\nwant\n%q", size, got, want)
		}
	}
}
