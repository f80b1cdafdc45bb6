package flow_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// kill -9 a Kafka → json.write run while it writes: the output file keeps
// its previous, complete content (records go to a temporary file moved into
// the file only at the end), nothing is committed, and the next run removes
// the crashed run's temporary file and writes every record: after the
// previous ones when appending (the default with a Kafka source), in their
// place with mode = "overwrite".
func TestIntegrationJSONWriteSurvivesCrash(t *testing.T) {
	noRaceChaos(t)
	for _, tc := range []struct {
		name, previous, config string
		keep                   bool // the previous record stays
	}{
		{"append array", `[{"from":"the previous run"}]`, ``, true},
		{"append jsonl", "{\"from\":\"the previous run\"}\n", `format = "jsonl"`, true},
		{"overwrite", `[{"from":"the previous run"}]`, `mode = "overwrite"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := kafkatest.Start(t)
			parallelOnRealBroker(t, env)
			in, group := kafkatest.Name("in"), kafkatest.Name("g")
			env.CreateTopic(t, in, 3)
			msgs, _ := events(30000)
			env.Produce(t, in, msgs)
			dir := t.TempDir()
			out := filepath.Join(dir, "out.json")
			if err := os.WriteFile(out, []byte(tc.previous), 0o644); err != nil {
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
%s
`, env.BrokerList(), in, group, extra, tc.config)
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
			if got, _ := os.ReadFile(out); string(got) != tc.previous {
				t.Fatalf("after kill -9 the output file holds %.100q, want the previous run's %q", got, tc.previous)
			}
			if c := env.Committed(t, group, in); len(c) > 0 {
				for _, off := range c {
					if off > 0 {
						t.Errorf("committed %v before the records were in the file", c)
					}
				}
			}
			t.Logf("killed while %s was being written; %s untouched", filepath.Base(temp), filepath.Base(out))

			runFile(t, writePipeline(t, dir, pipeline(`max_messages = 30000`)))
			recs := readRecords(t, out)
			want := 30000
			if tc.keep {
				want++
				if len(recs) == 0 || string(recs[0]) != `{"from":"the previous run"}` {
					t.Errorf("the previous record is gone: the file starts with %.100q", recs)
				}
			}
			if len(recs) != want {
				t.Errorf("output holds %d records, want %d", len(recs), want)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".out.json.tmp-*")); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			assertCommittedToEnd(t, env, group, in)
		})
	}
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

// Example 1 run twice, with new records produced between the runs: the
// file holds every record either run consumed, each once, and in
// particular every record whose offset is committed. As a JSON array (the
// example as written) and as JSON Lines.
func TestIntegrationJSONWriteExample1Twice(t *testing.T) {
	for _, tc := range []struct{ name, path, extra string }{
		{"array", "output/events.json", ""},
		{"jsonl", "output/events.jsonl", "\nformat = \"jsonl\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := kafkatest.Start(t)
			topic, group := kafkatest.Name("events"), kafkatest.Name("conveyor-consumer")
			env.CreateTopic(t, topic, 3)
			msgs, _ := events(2200)
			env.Produce(t, topic, msgs[:1500])
			dir := t.TempDir()
			text := example(t, "kafka-consumer-example.toml", env, `"events"`, fmt.Sprintf("%q", topic),
				`"conveyor-consumer"`, fmt.Sprintf("%q", group),
				`path = "output/events.json"`, fmt.Sprintf("path = %q%s", tc.path, tc.extra))
			first := runFile(t, writePipeline(t, dir, text))
			env.Produce(t, topic, msgs[1500:])
			second := runFile(t, writePipeline(t, dir, text))
			if first.In != 1000 || second.In != 1000 {
				t.Fatalf("runs consumed %d and %d records, want 1000 each (Example 1's max_messages)", first.In, second.In)
			}

			recs := readOutput(t, filepath.Join(dir, tc.path))
			type at struct {
				p   int32
				off int64
			}
			seen := map[at]bool{}
			for _, r := range recs {
				k := at{r.KafkaPartition, r.KafkaOffset}
				if seen[k] {
					t.Errorf("partition %d offset %d is in the file twice", k.p, k.off)
				}
				seen[k] = true
			}
			if len(recs) != 2000 {
				t.Errorf("the file holds %d records, want the 2000 both runs consumed", len(recs))
			}
			missing := 0
			for p, end := range env.Committed(t, group, topic) {
				for off := int64(0); off < end; off++ {
					if !seen[at{p, off}] {
						missing++
					}
				}
			}
			if missing > 0 {
				t.Errorf("%d records whose offsets are committed are not in the file", missing)
			}
		})
	}
}

// readRecords reads every record of a JSON array or JSON Lines file.
func readRecords(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := jsonio.NewReader(f, jsonio.FormatAuto)
	var out [][]byte
	for {
		v, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, bytes.Clone(v))
	}
}

// readOutput decodes every record of a JSON array or JSON Lines file.
func readOutput(t *testing.T, path string) []decoded {
	t.Helper()
	var out []decoded
	for _, v := range readRecords(t, path) {
		out = append(out, decode(t, v))
	}
	return out
}
