package flow_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// kill -9 a Kafka → json.write run while it writes: the output file keeps
// its previous, complete content (records go to a temporary file renamed
// over it only at the end), nothing is committed, and the next run removes
// the crashed run's temporary file and writes every record.
func TestIntegrationJSONWriteSurvivesCrash(t *testing.T) {
	env := kafkatest.Start(t)
	in, group := kafkatest.Name("in"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	msgs, _ := events(30000)
	env.Produce(t, in, msgs)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	const previous = `[{"from":"the previous run"}]`
	if err := os.WriteFile(out, []byte(previous), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeline := func(extra string) string {
		return fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
batch_size = 100
%s
[[stages]]
id = "write"
function = "json.write"
inputs = ["consume"]
[stages.config]
path = "out.json"
`, env.BrokerList(), in, group, extra)
	}
	p := startProc(t, "writer", writePipeline(t, dir, pipeline("max_messages = 0")))
	temp := waitFor(t, 60*time.Second, func() string { // the temporary file, once it holds something
		m, _ := filepath.Glob(filepath.Join(dir, ".out.json.tmp-*"))
		if len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() > 10000 {
				return m[0]
			}
		}
		return ""
	})
	p.kill()
	if got, _ := os.ReadFile(out); string(got) != previous {
		t.Fatalf("after kill -9 the output file holds %.100q, want the previous run's %q", got, previous)
	}
	if c := env.Committed(t, group, in); len(c) > 0 {
		for _, off := range c {
			if off > 0 {
				t.Errorf("committed %v before the file was renamed into place", c)
			}
		}
	}
	t.Logf("killed while %s was being written; %s untouched", filepath.Base(temp), filepath.Base(out))

	runFile(t, writePipeline(t, dir, pipeline(`max_messages = 30000`)))
	var recs []map[string]any
	raw, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(raw, &recs) != nil {
		t.Fatalf("output after the second run is not a JSON array (%v)", err)
	}
	if len(recs) != 30000 {
		t.Errorf("output holds %d records, want 30000", len(recs))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".out.json.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	assertCommittedToEnd(t, env, group, in)
}

// json.write refuses the file a json.read stage of the same pipeline
// reads, before reading or writing anything.
func TestJSONWriteRefusesItsOwnInput(t *testing.T) {
	dir := t.TempDir()
	const data = `[{"a":1},{"a":2}]`
	if err := os.WriteFile(filepath.Join(dir, "events.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	path := writePipeline(t, dir, `
[[stages]]
id = "read"
function = "json.read"
[stages.config]
path = "events.json"
[[stages]]
id = "write"
function = "json.write"
inputs = ["read"]
[stages.config]
path = "./events.json"
`)
	p, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	err = flow.Run(t.Context(), p)
	if err == nil || !strings.Contains(err.Error(), `is the file stage "read" reads: write somewhere else`) {
		t.Fatalf("error %v; want json.write to refuse the file json.read reads", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "events.json")); string(got) != data {
		t.Errorf("input changed to %q", got)
	}
}

// waitFor polls f until it returns something, or fails the test.
func waitFor(t *testing.T, limit time.Duration, f func() string) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if v := f(); v != "" {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gave up waiting after %s", limit)
	return ""
}
