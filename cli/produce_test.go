package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// consumedLines parses consume's output.
func consumedLines(t *testing.T, stdout string) []consumed {
	t.Helper()
	var out []consumed
	for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var c consumed
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("consume printed %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

// TestProduceConsume: a JSON array file produced with --key-field comes
// back from consume --from-beginning -n as the same records, each with the
// field's value as its Kafka key; JSON Lines from stdin as well, unkeyed.
func TestProduceConsume(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("produce")
	env.CreateTopic(t, topic, 3)
	recs := []string{`{"id":"u1","n":1}`, `{"id":"u2","n":2}`, `{"id":"u3","n":3}`, `{"id":7,"n":4}`}
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte("[\n  "+strings.Join(recs, ",\n  ")+"\n]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cli(t, "produce", topic, path, "--key-field", "id", "--brokers", env.BrokerList())
	if code != 0 || stdout != "" || stderr != "conveyor produce: sent 4 records to "+topic+"\n" {
		t.Fatalf("produce: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, "consume", "--brokers", env.BrokerList(), topic, "--from-beginning", "-n", "4")
	if code != 0 {
		t.Fatalf("consume: exit %d, stderr %q", code, stderr)
	}
	got := consumedLines(t, stdout)
	sort.Slice(got, func(i, j int) bool { return string(got[i].Value) < string(got[j].Value) })
	var values, keys []string
	for _, c := range got {
		values = append(values, string(c.Value))
		if c.Key == nil || c.Timestamp == "" || c.Offset < 0 || c.Partition < 0 || c.Partition > 2 {
			t.Errorf("consumed %+v: want a key, a timestamp, a partition and an offset", c)
			continue
		}
		keys = append(keys, *c.Key)
	}
	if !reflect.DeepEqual(values, recs) || !reflect.DeepEqual(keys, []string{"u1", "u2", "u3", "7"}) {
		t.Errorf("consumed values %q keys %q, want %q keyed u1 u2 u3 7", values, keys, recs)
	}
	// The keys landed in Kafka itself, not only in what consume prints.
	for _, m := range env.ReadAll(t, topic) {
		var v struct{ N int }
		_ = json.Unmarshal(m.Value, &v)
		if want := []string{"", "u1", "u2", "u3", "7"}[v.N]; string(m.Key) != want {
			t.Errorf("record %s has key %q, want %q", m.Value, m.Key, want)
		}
	}

	// JSON Lines on stdin ("-"), no key: consume prints null keys.
	topic2 := kafkatest.Name("produce")
	env.CreateTopic(t, topic2, 1)
	withStdin(t, "{\"a\":1}\n\n{\"a\": [2, 3]}\n")
	if code, _, stderr := cli(t, "produce", "--brokers", env.BrokerList(), topic2, "-"); code != 0 {
		t.Fatalf("produce -: exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr = cli(t, "consume", topic2, "--brokers", env.BrokerList(), "--from-beginning", "-n", "2")
	lines := strings.Split(stdout, "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], `{"partition":0,"offset":0,"key":null,"timestamp":"`) ||
		!strings.HasSuffix(lines[0], `","value":{"a":1}}`) || !strings.HasSuffix(lines[1], `","value":{"a":[2,3]}}`) {
		t.Errorf("consume: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}

// TestConsumeGroup: consume --group commits what it printed, so the next
// consume in the group starts after it.
func TestConsumeGroup(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("consume"), kafkatest.Name("g")
	env.CreateTopic(t, topic, 1)
	env.Produce(t, topic, []kafkatest.Msg{{Value: []byte(`1`)}, {Value: []byte(`not json`)}, {Value: []byte(`3`)}})
	code, stdout, stderr := cli(t, "consume", topic, "--group", group, "--from-beginning", "-n", "2", "--brokers", env.BrokerList())
	got := consumedLines(t, stdout)
	if code != 0 || len(got) != 2 || string(got[0].Value) != "1" || string(got[1].Value) != `"not json"` {
		t.Fatalf("first consume: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
	if c := env.Committed(t, group, topic); c[0] != 2 {
		t.Errorf("committed %v, want partition 0 at 2", c)
	}
	code, stdout, stderr = cli(t, "consume", topic, "--group", group, "-n", "1", "--brokers", env.BrokerList())
	if got := consumedLines(t, stdout); code != 0 || len(got) != 1 || got[0].Offset != 2 || string(got[0].Value) != "3" {
		t.Errorf("second consume: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}

// TestProduceErrors: malformed JSON names the file, line and column and
// what was expected; a record without the key field names the record; the
// records before either are sent, none after.
func TestProduceErrors(t *testing.T) {
	env := kafkatest.Start(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text, key string
		want            string
		sent            int
	}{
		{"bad.jsonl", "{\"a\":1}\n{\"a\":2 \"b\":3}\n{\"a\":4}\n", "",
			`bad.jsonl: line 2, column 8: record 2: expected ',' or '}' after an object value, found '"'`, 1},
		{"bad.json", "[{\"a\":1},\n {\"a\":2},\n {\"a\": tru}]", "",
			`bad.json: line 3, column 8: element 3: expected true, found "tru}"`, 2},
		{"nokey.jsonl", "{\"id\":\"x\"}\n{\"id\":null}\n{\"id\":\"z\"}\n", "id",
			`nokey.jsonl: record 2 has no --key-field "id" (a string, number or boolean): {"id":null}`, 1},
	} {
		topic := kafkatest.Name("bad")
		env.CreateTopic(t, topic, 1)
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"produce", "--brokers", env.BrokerList(), topic, path}
		if tc.key != "" {
			args = append(args, "--key-field", tc.key)
		}
		code, _, stderr := cli(t, args...)
		if code != 1 || !strings.HasPrefix(stderr, "conveyor produce: "+filepath.Join(dir, tc.want)+"\n") {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant it to start with conveyor produce: %s", tc.name, code, stderr, filepath.Join(dir, tc.want))
		}
		if n := len(env.ReadAll(t, topic)); n != tc.sent {
			t.Errorf("%s: %d records sent, want %d", tc.name, n, tc.sent)
		}
	}
	if code, _, stderr := cli(t, "produce", "--brokers", env.BrokerList(), "t", filepath.Join(dir, "missing.json")); code != 1 ||
		!strings.Contains(stderr, "missing.json: no such file or directory") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
	missing := kafkatest.Name("missing")
	if code, _, stderr := cli(t, "consume", "--brokers", env.BrokerList(), missing, "-n", "1"); code != 1 ||
		stderr != fmt.Sprintf("conveyor consume: topic %q does not exist on %s\n", missing, env.BrokerList()) {
		t.Errorf("consume of a missing topic: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli(t, "produce"); code != 2 || !strings.Contains(stderr, "usage: conveyor produce") {
		t.Errorf("no topic: exit %d, stderr %q", code, stderr)
	}
}

// cliWithin is cli, failing the test when the command has not returned
// within d (a consume that waits for ever).
func cliWithin(t *testing.T, d time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.stdout, r.stderr
	case <-time.After(d):
		t.Fatalf("conveyor %s did not return within %s", strings.Join(args, " "), d)
		return 0, "", ""
	}
}

// TestConsumeUntilEnd: --until-end stops at the end offsets the topic had
// when consume started, like kcat -e: at once, saying 0 records, on an
// empty topic (where -n 1 alone waits for ever) or from the end; after every
// record with --from-beginning; and in a group, from its commits.
func TestConsumeUntilEnd(t *testing.T) {
	env := kafkatest.Start(t)
	empty, full, group := kafkatest.Name("empty"), kafkatest.Name("full"), kafkatest.Name("g")
	env.CreateTopic(t, empty, 3)
	env.CreateTopic(t, full, 2)
	env.Produce(t, full, []kafkatest.Msg{{Partition: 0, Value: []byte(`1`)}, {Partition: 1, Value: []byte(`2`)},
		{Partition: 0, Value: []byte(`3`)}, {Partition: 1, Value: []byte(`4`)}, {Partition: 1, Value: []byte(`5`)}})
	const within = 30 * time.Second
	for _, tc := range []struct {
		args []string
		n    int
	}{
		{[]string{empty, "--until-end", "-n", "1"}, 0},
		{[]string{empty, "--until-end", "--from-beginning"}, 0},
		{[]string{full, "--until-end"}, 0}, // from the end: nothing to print
		{[]string{full, "--until-end", "--from-beginning"}, 5},
		{[]string{full, "--until-end", "--from-beginning", "-n", "2"}, 2},
		{[]string{full, "--until-end", "--from-beginning", "--group", group}, 5},
		{[]string{full, "--until-end", "--group", group}, 0}, // the group committed all five
	} {
		args := append([]string{"consume", "--brokers", env.BrokerList()}, tc.args...)
		code, stdout, stderr := cliWithin(t, within, args...)
		lines := 0
		if stdout != "" {
			lines = len(consumedLines(t, stdout))
		}
		if code != 0 || lines != tc.n {
			t.Errorf("%s: exit %d, %d records, want %d; stderr %q", strings.Join(tc.args, " "), code, lines, tc.n, stderr)
		}
		if slices.Contains(tc.args, "-n") {
			continue // stopped by -n, maybe before the end
		}
		if want := fmt.Sprintf("conveyor consume: %d records, up to the end %s had when consume started\n", tc.n, tc.args[0]); stderr != want {
			t.Errorf("%s: stderr %q, want %q", strings.Join(tc.args, " "), stderr, want)
		}
	}
}

// conveyor produce of a record larger than the topic allows names the
// setting to raise.
func TestProduceRecordLargerThanTopicAllows(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("small")
	env.CreateTopic(t, topic, 1, "max.message.bytes", "10000")
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, []byte(`{"v":"`+strings.Repeat("x", 20000)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "produce", "--brokers", env.BrokerList(), topic, path)
	if code != 1 || !strings.Contains(stderr, "Message was too large") || !strings.Contains(stderr, "max.message.bytes") {
		t.Errorf("exit %d, stderr %q; want 1 and the topic's max.message.bytes named", code, stderr)
	}
}
