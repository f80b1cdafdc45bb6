package perminute

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

const grace = 10_000

func registry(t *testing.T) *plugin.Registry {
	reg := flow.Registry().Clone()
	if err := reg.Register(Spec()); err != nil {
		t.Fatal(err)
	}
	return reg
}

func run(t *testing.T, reg *plugin.Registry, pipeline string) flow.Summary {
	t.Helper()
	p, err := config.Parse(filepath.Join(t.TempDir(), "p.toml"), []byte(pipeline))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := flow.Execute(ctx, p, flow.WithRegistry(reg), flow.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("summary: %s", sum)
	return sum
}

type event struct {
	country string
	ts      int64
	line    string
}

// gen makes orders of three countries at about one a second of event time
// each, interleaved: 5% come up to 8 s out of order (within grace), 1% two
// minutes late; then one order per country far ahead, which closes every
// minute before it.
func gen(n int) []event {
	r := rand.New(rand.NewPCG(7, 7))
	base := int64(1_700_000_000_000) / minute * minute
	var evs []event
	add := func(c string, i int, ts int64) {
		evs = append(evs, event{c, ts, fmt.Sprintf(`{"country":%q,"ts":%d,"id":"%s-%d"}`, c, ts, c, i)})
	}
	for i := range n {
		for _, c := range []string{"DE", "FR", "IT"} {
			ts := base + int64(i)*1000
			switch x := r.IntN(100); {
			case x < 5:
				ts -= int64(1+r.IntN(8)) * 1000
			case x == 5:
				ts -= 2 * minute
			}
			add(c, i, ts)
		}
	}
	for _, c := range []string{"DE", "FR", "IT"} {
		add(c, n, base+int64(n)*1000+10*minute)
	}
	return evs
}

// reference is what a plain computation gives: each partition's orders in
// order, an order late when its partition had passed its minute's end plus
// grace before it; the closing orders' own minutes are left out.
func reference(evs []event, partOf func(country string) int) (want map[string]int, late int) {
	want = map[string]int{}
	maxTS := map[int]int64{}
	lastTS := map[string]int64{}
	for _, e := range evs {
		lastTS[e.country] = max(lastTS[e.country], e.ts)
	}
	for _, e := range evs {
		p := partOf(e.country)
		start := e.ts - e.ts%minute
		m, seen := maxTS[p]
		switch {
		case seen && start+minute+grace <= m:
			late++
		case e.ts != lastTS[e.country]:
			want[e.country+" "+time.UnixMilli(start).UTC().Format(time.RFC3339)]++
		}
		maxTS[p] = max(m, e.ts)
		if !seen {
			maxTS[p] = e.ts
		}
	}
	return want, late
}

type window struct {
	Country string `json:"country"`
	Minute  string `json:"minute"`
	Orders  int    `json:"orders"`
}

// collect sums the windows read, and fails on a window emitted twice.
func collect(t *testing.T, values [][]byte) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, v := range values {
		var w window
		if err := json.Unmarshal(v, &w); err != nil {
			t.Fatalf("output %s: %v", v, err)
		}
		k := w.Country + " " + w.Minute
		if _, dup := got[k]; dup {
			t.Errorf("window %s emitted twice", k)
		}
		got[k] += w.Orders
	}
	return got
}

func compare(t *testing.T, got, want map[string]int) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("window %s: %d orders, want %d", k, got[k], want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("window %s emitted (%d orders), not expected", k, got[k])
		}
	}
}

// Without Kafka the state lives in memory, and what is open at the end of
// the input is emitted then: every minute comes out once, exact.
func TestCountsPerMinuteFromAFile(t *testing.T) {
	evs := gen(400)
	want, late := reference(evs, func(string) int { return 0 })
	dir := t.TempDir()
	in, out := filepath.Join(dir, "orders.jsonl"), filepath.Join(dir, "minutes.jsonl")
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.line + "\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := run(t, registry(t), fmt.Sprintf(`
[[stages]]
id = "orders"
function = "json.read"
[stages.config]
path = %q

[[stages]]
id = "count"
function = "orders.perminute"
inputs = ["orders"]
[stages.config]
grace_ms = %d

[[stages]]
id = "write"
function = "json.write"
inputs = ["count"]
[stages.config]
path = %q
format = "jsonl"
`, in, grace, out))
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var values [][]byte
	for _, l := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		values = append(values, []byte(l))
	}
	got := collect(t, values)
	// The closing orders' minutes were open at the end of the input: they
	// are emitted then, one order each.
	for _, c := range []string{"DE", "FR", "IT"} {
		last := evs[len(evs)-1].ts
		k := c + " " + time.UnixMilli(last-last%minute).UTC().Format(time.RFC3339)
		if got[k] != 1 {
			t.Errorf("the minute still open at the end, %s: %d orders, want 1", k, got[k])
		}
		delete(got, k)
	}
	compare(t, got, want)
	if st := stage(sum, "count"); st.Late != int64(late) || late == 0 {
		t.Errorf("late %d; want %d", st.Late, late)
	}
}

func stage(sum flow.Summary, id string) flow.StageSummary {
	for _, s := range sum.Stages {
		if s.ID == id {
			return s
		}
	}
	return flow.StageSummary{}
}

// On Kafka the state is kept per partition in the changelog topic: a
// bounded run ends with minutes still open, and the next run restores them
// and completes them. Every minute comes out once, with the count a plain
// computation over each partition gives, and every offset is committed.
func TestCountsPerMinuteAcrossRunsOnKafka(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("minutes"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	evs := gen(300)
	part := map[string]int32{"DE": 0, "FR": 1, "IT": 2}
	want, late := reference(evs, func(c string) int { return int(part[c]) })
	msgs := make([]kafkatest.Msg, len(evs))
	for i, e := range evs {
		msgs[i] = kafkatest.Msg{Partition: part[e.country], Key: []byte(e.country), Value: []byte(e.line)}
	}
	pipeline := fmt.Sprintf(`
[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
until = "end"
timeout_ms = 30000
batch_size = 50

[[stages]]
id = "count"
function = "orders.perminute"
inputs = ["orders"]
[stages.config]
grace_ms = %[5]d

[[stages]]
id = "produce"
function = "kafka"
inputs = ["count"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out, grace)
	reg := registry(t)
	half := len(msgs) / 2
	env.Produce(t, in, msgs[:half])
	s1 := run(t, reg, pipeline)
	env.Produce(t, in, msgs[half:])
	s2 := run(t, reg, pipeline)

	var values [][]byte
	for _, m := range env.ReadAll(t, out) {
		values = append(values, m.Value)
	}
	compare(t, collect(t, values), want)
	if n := stage(s1, "count").Late + stage(s2, "count").Late; n != int64(late) || late == 0 {
		t.Errorf("late %d; want %d", n, late)
	}
	committed, ends := env.Committed(t, group, in), env.EndOffsets(t, in)
	if !maps.Equal(committed, ends) {
		t.Errorf("committed %v, want the end offsets %v", committed, ends)
	}
	if cl := env.ReadAll(t, group+"-count-changelog"); len(cl) == 0 {
		t.Error("the changelog topic is empty")
	}
}
