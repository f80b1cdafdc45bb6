package state

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/plugin"
)

// counter counts records per key "k" in tumbling windows of 10 ms of "t",
// emitting {"k","start","n"} when the watermark passes a window's end.
type counter struct{}

func (counter) EventTime(r plugin.Record) (int64, error) {
	return gjson.GetBytes(r.Value, "t").Int(), nil
}

func (counter) Process(st plugin.State, r plugin.Record) error {
	t := gjson.GetBytes(r.Value, "t").Int()
	start := t / 10 * 10
	if start+10 <= st.Watermark() {
		return fmt.Errorf("%w: t=%d", plugin.ErrLate, t)
	}
	key := []byte(gjson.GetBytes(r.Value, "k").String() + "|" + strconv.FormatInt(start, 10))
	n := 0
	if v, ok := st.Get(key); ok {
		n, _ = strconv.Atoi(string(v))
	}
	st.Put(key, []byte(strconv.Itoa(n+1)))
	st.SetTimer(start+10, key)
	return nil
}

func (counter) OnTimer(st plugin.State, _ int64, key []byte) error {
	v, _ := st.Get(key)
	st.Emit([]byte(fmt.Sprintf(`{"w":%q,"n":%s}`, key, v)))
	st.Delete(key)
	return nil
}

// memLog is a changelog in memory.
type memLog struct {
	mu    sync.Mutex
	parts map[int32][]Change
	reads int
}

func (m *memLog) Write(_ context.Context, p int32, cs []Change) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.parts == nil {
		m.parts = map[int32][]Change{}
	}
	m.parts[p] = append(m.parts[p], cs...)
	return int64(len(m.parts[p])), nil
}

func (m *memLog) Read(_ context.Context, p int32, from int64, total func(int64), fn func(Change)) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	log := m.parts[p]
	if from < int64(len(log)) {
		total(int64(len(log)) - from)
	}
	for _, c := range log[min(from, int64(len(log))):] {
		fn(c)
	}
	return int64(len(log)), nil
}

func (m *memLog) Close() error { return nil }

func batch(p int32, first int64, recs ...string) plugin.Batch {
	b := plugin.Batch{Origin: "orders", Partition: p}
	for i, r := range recs {
		b.Records = append(b.Records, plugin.Record{Value: []byte(r), Offset: first + int64(i)})
	}
	return b
}

func withLog(l *memLog) func(context.Context) (Changelog, error) {
	return func(context.Context) (Changelog, error) { return l, nil }
}

// apply applies b and writes its changes, as the engine does once the
// batch's output is durable.
func apply(t *testing.T, s *Stage, ctx context.Context, b plugin.Batch) []string {
	t.Helper()
	res, err := s.Apply(ctx, b, func(i int, err error) { t.Fatalf("record %d failed: %v", i, err) })
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Pending.Write(ctx); err != nil {
		t.Fatal(err)
	}
	return texts(res.Out)
}

func texts(recs []plugin.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

func eq(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func TestTimersFireOnTheWatermarkAndAtTheEnd(t *testing.T) {
	s := New("w", counter{}, nil)
	ctx := context.Background()
	eq(t, "first batch", apply(t, s, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"b","t":3}`, `{"k":"a","t":9}`)))
	// Partition 1 is far ahead: it closes nothing of partition 0.
	eq(t, "partition 1", apply(t, s, ctx, batch(1, 0, `{"k":"a","t":100}`)))
	// t=5 comes after t=12 in its partition: its window [0, 10) closed.
	res, err := s.Apply(ctx, batch(0, 3, `{"k":"a","t":12}`, `{"k":"a","t":5}`), nil)
	if err != nil || fmt.Sprint(res.Late) != "[1]" || s.Late() != 1 {
		t.Fatalf("a record of a closed window: late %v (total %d), %v", res.Late, s.Late(), err)
	}
	eq(t, "watermark at 12", texts(res.Out), `{"w":"a|0","n":2}`, `{"w":"b|0","n":1}`)
	ends, err := s.End()
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != 2 || ends[0].Partition != 0 || ends[1].Partition != 1 {
		t.Fatalf("end batches: %+v", ends)
	}
	eq(t, "end of partition 0", texts(ends[0].Records), `{"w":"a|10","n":1}`)
	eq(t, "end of partition 1", texts(ends[1].Records), `{"w":"a|100","n":1}`)
}

func TestRestoreGivesBackStateAndSkipsWhatItHolds(t *testing.T) {
	log := &memLog{}
	ctx := context.Background()
	s := New("w", counter{}, withLog(log))
	apply(t, s, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":2}`))
	// A crash after the changelog write, before the offsets were
	// committed: the next owner reads the batch again.
	s2 := New("w", counter{}, withLog(log))
	out := apply(t, s2, ctx, batch(0, 0, `{"k":"a","t":1}`, `{"k":"a","t":2}`, `{"k":"a","t":4}`, `{"k":"a","t":30}`))
	eq(t, "after restore", out, `{"w":"a|0","n":3}`)
	if log.reads != 2 {
		t.Errorf("changelog read %d times, want 2 (one restore per instance)", log.reads)
	}
}

func TestAFailedBatchIsNotCountedTwice(t *testing.T) {
	log := &memLog{}
	ctx := context.Background()
	s := New("w", counter{}, withLog(log))
	apply(t, s, ctx, batch(0, 0, `{"k":"a","t":1}`))
	res, err := s.Apply(ctx, batch(0, 1, `{"k":"a","t":2}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A batch after it was processed, its output not yet durable...
	res2, err := s.Apply(ctx, batch(0, 2, `{"k":"a","t":3}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Pending.Abandon() // ...then the first one's write failed
	if err := res2.Pending.Write(ctx); err == nil {
		t.Fatal("a batch after a failed one wrote its changes")
	}
	// Both are read again: the state is the changelog's, holding offset 0.
	out := apply(t, s, ctx, batch(0, 1, `{"k":"a","t":2}`, `{"k":"a","t":3}`, `{"k":"a","t":50}`))
	eq(t, "after the failure", out, `{"w":"a|0","n":3}`)
}

func TestAClaimBackCatchesUpWithTheChangelog(t *testing.T) {
	log := &memLog{}
	a, b := New("w", counter{}, withLog(log)), New("w", counter{}, withLog(log))
	claim1, end1 := context.WithCancel(context.Background())
	apply(t, a, claim1, batch(0, 0, `{"k":"a","t":1}`))
	end1() // a rebalance: b gets partition 0
	apply(t, b, context.Background(), batch(0, 1, `{"k":"a","t":2}`, `{"k":"a","t":3}`))
	// ...and a gets it back.
	out := apply(t, a, context.Background(), batch(0, 3, `{"k":"a","t":4}`, `{"k":"a","t":20}`))
	eq(t, "after the claim came back", out, `{"w":"a|0","n":4}`)
	if log.reads != 3 {
		t.Errorf("changelog read %d times, want 3 (a restore per instance, then a's catch-up)", log.reads)
	}
}
