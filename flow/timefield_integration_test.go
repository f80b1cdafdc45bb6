package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// Issue 17's trial: kafka → dedupe.apply (time_field defaulted: the
// produce time) → window.aggregate (time_field = "ts", yesterday) → kafka
// dropped 13 of 15 orders as late, the dedupe stage's watermark taken as
// the window's progress. The run is refused, naming the fix; with
// time_field = "ts" on both stages every window is exact.
func TestIntegrationStatefulTimeFieldsMustMatch(t *testing.T) {
	env := kafkatest.Start(t)
	in := kafkatest.Name("orders")
	env.CreateTopic(t, in, 3)
	countries := []string{"DE", "FR", "IT"}
	base := time.Now().Add(-24 * time.Hour).Truncate(10 * time.Second).UnixMilli()
	type wkey struct {
		country string
		start   int64
	}
	want := map[wkey][2]int64{} // count, sum of amounts
	var msgs []kafkatest.Msg
	for i := range 15 {
		c, ts, amount := countries[i%3], base+int64(i)*1000, int64(i+1)
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: []byte(c),
			Value: fmt.Appendf(nil, `{"order_id":"o-%d","country":%q,"amount":%d,"ts":%d}`, i, c, amount, ts)})
		k := wkey{c, ts - ts%10000}
		want[k] = [2]int64{want[k][0] + 1, want[k][1] + amount}
	}
	for p := range 3 { // one order per partition an hour ahead closes every window above
		msgs = append(msgs, kafkatest.Msg{Partition: int32(p), Key: []byte("ZZ"),
			Value: fmt.Appendf(nil, `{"order_id":"close-%d","country":"ZZ","amount":1,"ts":%d}`, p, base+time.Hour.Milliseconds())})
	}
	env.Produce(t, in, msgs)

	pipeline := func(out, dedupeTime string) string {
		return fmt.Sprintf(`
[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
until = "end"
timeout_ms = 60000

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
ttl_ms = 3600000
%[5]s

[[stages]]
id = "count"
function = "window.aggregate"
inputs = ["dedupe"]
[stages.config]
group_by = ["country"]
time_field = "ts"
size_ms = 10000
grace_ms = 5000
[stages.config.aggregates]
orders = "count()"
revenue = "sum(amount)"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["count"]
[stages.config]
brokers = %[1]q
topic = %[4]q
key_field = "country"
`, env.BrokerList(), in, kafkatest.Name("g"), out, dedupeTime)
	}

	out := kafkatest.Name("windows")
	env.CreateTopic(t, out, 3)
	text := pipeline(out, "")
	sum, err := executeFile(t, writePipeline(t, t.TempDir(), text))
	fix := `set time_field = "ts" on stage "dedupe" too`
	at := fmt.Sprintf("pipeline.toml:%d:", strings.Count(text[:strings.Index(text, `time_field = "ts"`)], "\n")+1)
	if err == nil {
		t.Errorf("the run with time fields that differ was not refused: %s; windows out: %s", sum, windowsOf(t, env.ReadAll(t, out)))
	} else if !strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), `stages[2] "count" config.time_field:`) || !strings.Contains(err.Error(), fix) {
		t.Errorf("error:\n%v\nwant at %s stages[2] \"count\" config.time_field, and: %s", err, at, fix)
	}

	out = kafkatest.Name("windows")
	env.CreateTopic(t, out, 3)
	sum = runFile(t, writePipeline(t, t.TempDir(), pipeline(out, `time_field = "ts"`)))
	got := map[wkey][2]int64{}
	for _, m := range env.ReadAll(t, out) {
		var w windowOut
		if err := json.Unmarshal(m.Value, &w); err != nil {
			t.Fatalf("output %s: %v", m.Value, err)
		}
		start, err := time.Parse(time.RFC3339, w.Start)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := strconv.ParseInt(string(w.Revenue), 10, 64)
		if err != nil {
			t.Fatalf("revenue of %s: %v", m.Value, err)
		}
		k := wkey{w.Country, start.UnixMilli()}
		got[k] = [2]int64{got[k][0] + w.Orders, got[k][1] + rev}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("windows (count, sum):\n%v\nwant\n%v", got, want)
	}
	for _, st := range sum.Stages {
		if st.Late != 0 {
			t.Errorf("stage %s: %d late records, want none", st.ID, st.Late)
		}
	}
}

// executeFile loads and runs a pipeline file in process, and returns what
// the run returned.
func executeFile(t *testing.T, path string) (flow.Summary, error) {
	t.Helper()
	p, err := config.Load(path)
	if err != nil {
		return flow.Summary{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return flow.Execute(ctx, p)
}

// windowsOf is the output records, for a message.
func windowsOf(t *testing.T, msgs []kafkatest.Msg) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		b.Write(m.Value)
		b.WriteByte('\n')
	}
	return b.String()
}
