package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// statePipeline drops duplicate orders, then counts them per country in
// one-minute windows, below a kafka source read to its end, with its
// stores under stateDir ("" for memory).
func statePipeline(t *testing.T, brokers, in, group, out, stateDir string) string {
	t.Helper()
	global := ""
	if stateDir != "" {
		global = fmt.Sprintf("[global]\nstate_dir = %q\n", stateDir)
	}
	path := filepath.Join(t.TempDir(), "p.toml")
	text := fmt.Sprintf(`%s
[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[2]q
topic = %[3]q
group_id = %[4]q
until = "end"

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"
repartition = "never" # every copy of an order is in its partition

[[stages]]
id = "count"
function = "window.aggregate"
inputs = ["dedupe"]
[stages.config]
group_by = ["country"]
time_field = "ts"
size_ms = 60000
repartition = "never" # the topic is keyed by country
[stages.config.aggregates]
orders = "count()"
revenue = "sum(amount)"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["count"]
[stages.config]
brokers = %[2]q
topic = %[5]q
create_topic = true
`, global, brokers, in, group, out)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stateOrders writes, all in one minute: DE 5 orders and IT 4 to partition
// 0, FR 3 to partition 1, US 2 to partition 2, and one duplicate of o-0.
func stateOrders(t *testing.T, env kafkatest.Env, topic string) {
	t.Helper()
	env.CreateTopic(t, topic, 3)
	const base = 1_700_000_040_000 // a minute's start
	var msgs []kafkatest.Msg
	n := 0
	for _, c := range []struct {
		country string
		part    int32
		orders  int
	}{{"DE", 0, 5}, {"IT", 0, 4}, {"FR", 1, 3}, {"US", 2, 2}} {
		for range c.orders {
			msgs = append(msgs, kafkatest.Msg{Partition: c.part, Key: []byte(c.country),
				Value: fmt.Appendf(nil, `{"order_id":"o-%d","country":%q,"amount":1.5,"ts":%d}`, n, c.country, base+int64(n)*100)})
			n++
		}
	}
	msgs = append(msgs, msgs[0]) // a duplicate
	env.Produce(t, topic, msgs)
}

// `conveyor state` lists both stateful stages with their disk stores, the
// changelog's partitions with their end offsets, and the keys and timers
// each holds: the windows still open (nothing closed them) and the order
// ids seen; each disk store's checkpoint is its changelog partition's end.
func TestStateListsStoresChangelogsAndKeys(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("counts"), kafkatest.Name("g")
	stateOrders(t, env, in)
	dir := t.TempDir()
	path := statePipeline(t, env.BrokerList(), in, group, out, dir)
	if code, _, stderr := cli(t, "run", "--no-progress", path); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := cli(t, "state", "--format", "json", path)
	var doc struct {
		Stages []stateReport `json:"stages"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil || len(doc.Stages) != 2 {
		t.Fatalf("json: exit %d, %v, %s %s", code, err, stdout, stderr)
	}
	// The broker says each partition's bytes: more than nothing.
	var sizes []int64
	for _, st := range doc.Stages {
		for _, p := range st.Partitions {
			if p.Bytes == nil || *p.Bytes <= 0 {
				t.Fatalf("stage %s partition %d: bytes %v", st.Stage, p.Partition, p.Bytes)
			}
			sizes = append(sizes, *p.Bytes)
		}
	}
	code, stdout, stderr = cli(t, "state", path)
	if code != 0 {
		t.Fatalf("state: exit %d: %s", code, stderr)
	}
	ends := func(stage string) map[int32]int64 { return env.EndOffsets(t, group+"-"+stage+"-changelog") }
	de, ce := ends("dedupe"), ends("count")
	abs, _ := filepath.Abs(dir)
	if len(sizes) != 6 {
		t.Fatalf("%d partitions in all, want 6", len(sizes))
	}
	args := []any{de[0], de[1], de[2], ce[0], ce[1], ce[2]}
	for _, b := range sizes {
		args = append(args, b)
	}
	args = append(args, sizes[0]+sizes[1]+sizes[2], sizes[3]+sizes[4]+sizes[5])
	want := strings.NewReplacer("{dir}", abs, "{g}", group).Replace(fmt.Sprintf(`stage "dedupe" (dedupe.apply): store disk in {dir}/{g}-dedupe-changelog/<partition>
changelog "{g}-dedupe-changelog":
PARTITION START END BYTES KEYS TIMERS DISK CHECKPOINT
0 0 %[1]d %[7]d 9 0 %[1]d
1 0 %[2]d %[8]d 3 0 %[2]d
2 0 %[3]d %[9]d 2 0 %[3]d
TOTAL %[13]d 14 0

stage "count" (window.aggregate): store disk in {dir}/{g}-count-changelog/<partition>
changelog "{g}-count-changelog":
PARTITION START END BYTES KEYS TIMERS DISK CHECKPOINT
0 0 %[4]d %[10]d 2 2 %[4]d
1 0 %[5]d %[11]d 1 1 %[5]d
2 0 %[6]d %[12]d 1 1 %[6]d
TOTAL %[14]d 4 4
`, args...))
	if got := squeeze(stdout); got != squeeze(want) {
		t.Errorf("got:\n%s\nwant:\n%s", stdout, want)
	}
	if doc.Stages[1].Keys != 4 || doc.Stages[1].Store != "disk" || *doc.Stages[1].Partitions[0].Checkpoint != ce[0] {
		t.Errorf("json: %+v", doc.Stages[1])
	}
}

// `conveyor state --stage --key` prints a key's state decoded: the open
// window of a country as the record it would emit, an order id's first
// time; a key without state exits 1 saying so on stderr, with nothing on
// stdout. (The state is read from
// the changelog, whatever the store.)
func TestStatePrintsOneKey(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("counts"), kafkatest.Name("g")
	stateOrders(t, env, in)
	// A relative state_dir starts at the pipeline file's directory.
	path := statePipeline(t, env.BrokerList(), in, group, out, "state")
	if code, _, stderr := cli(t, "run", "--no-progress", path); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "state", group+"-count-changelog", "0")); err != nil {
		t.Errorf("the relative state_dir is not beside the pipeline: %v", err)
	}
	for _, tc := range []struct{ stage, key, want string }{
		{"count", "DE", `[{"partition":0,"value":{"country":"DE","window_start":"2023-11-14T22:14:00Z","window_end":"2023-11-14T22:15:00Z","orders":5,"revenue":7.5}}]`},
		{"count", `["FR"]`, `[{"partition":1,"value":{"country":"FR","window_start":"2023-11-14T22:14:00Z","window_end":"2023-11-14T22:15:00Z","orders":3,"revenue":4.5}}]`},
		{"dedupe", "o-13", `[{"partition":2,"value":{"key":"o-13","first_seen":"2023-11-14T22:14:01.300Z"}}]`},
	} {
		code, stdout, stderr := cli(t, "state", path, "--stage", tc.stage, "--key", tc.key)
		var doc struct {
			Stage, Key, Changelog string
			State                 json.RawMessage
		}
		if err := json.Unmarshal([]byte(stdout), &doc); code != 0 || err != nil {
			t.Fatalf("%s %s: exit %d, %v: %s %s", tc.stage, tc.key, code, err, stdout, stderr)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc.State); err != nil {
			t.Fatal(err)
		}
		if compact.String() != tc.want || doc.Changelog != group+"-"+tc.stage+"-changelog" {
			t.Errorf("%s %s: %s in %s\nwant %s", tc.stage, tc.key, compact.String(), doc.Changelog, tc.want)
		}
	}
	code, stdout, stderr := cli(t, "state", path, "--stage", "count", "--key", "XX")
	if code != 1 || !strings.Contains(stderr, `holds no state for key "XX"`) || stdout != "" {
		t.Errorf("a key without state: exit %d, stdout %q (want none), stderr %s", code, stdout, stderr)
	}
}

// Mistakes get clear errors: an unknown stage (with a suggestion), a
// stage that keeps no state, --key without --stage, brokers not there, a
// changelog not created yet.
func TestStateErrors(t *testing.T) {
	env := kafkatest.Start(t)
	in := kafkatest.Name("orders")
	env.CreateTopic(t, in, 3)
	group := kafkatest.Name("g")
	path := statePipeline(t, env.BrokerList(), in, group, kafkatest.Name("out"), "")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--stage", "cont", "--key", "DE"}, 1, `has no stateful stage "cont" (did you mean "count"?); its stateful stages: dedupe, count`},
		{[]string{"--stage", "produce", "--key", "DE"}, 1, `has no stateful stage "produce"`},
		{[]string{"--key", "DE"}, 2, "--stage and --key go together"},
		{[]string{"--stage", "count", "--key", "DE"}, 1, fmt.Sprintf(`changelog %q does not exist`, group+"-count-changelog")},
		{nil, 0, fmt.Sprintf(`changelog %q does not exist yet: the stage has not run below group %q`, group+"-count-changelog", group)},
	} {
		code, stdout, stderr := cli(t, append([]string{"state", path}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("state %v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, stdout, stderr, tc.code, tc.want)
		}
	}
	if topicExists(t, env, group+"-count-changelog") {
		t.Error("conveyor state created the changelog")
	}
	gone := statePipeline(t, "127.0.0.1:1", in, group, "out", "")
	code, _, stderr := cli(t, "state", gone)
	if code != 1 || !strings.Contains(stderr, `conveyor state: stage "dedupe": kafka changelog of "dedupe": cannot reach brokers 127.0.0.1:1`) {
		t.Errorf("no Kafka: exit %d, %s", code, stderr)
	}
}
