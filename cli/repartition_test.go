package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conveyor validate names the repartition topic of a stateful stage keyed
// otherwise than its input (and none for repartition = "never", nor
// without a Kafka source); under exactly-once it repartitions the same
// way, the topic's writes and reads joining the run's transaction.
func TestValidateShowsRepartition(t *testing.T) {
	code, stdout, stderr := cli(t, "validate", "testdata/graph/repartition.toml")
	want := `  stage "count" repartitions its input by its key through topic "g-count-repartition"`
	if code != 0 || !strings.Contains(stdout, want) || strings.Contains(stdout, `"distinct"`) {
		t.Errorf("exit %d, stdout %q, stderr %q; want the line %q and none for the stage with repartition = never", code, stdout, stderr, want)
	}

	text, err := os.ReadFile("testdata/graph/repartition.toml")
	if err != nil {
		t.Fatal(err)
	}
	eos := filepath.Join(t.TempDir(), "eos.toml")
	eosText := "[pipeline]\nguarantee = \"exactly-once\"\n" + strings.Replace(string(text), "group_id = \"g\"\n", "group_id = \"g\"\ngroup_instance_id = \"a\"\n", 1)
	if err := os.WriteFile(eos, []byte(eosText), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = cli(t, "validate", eos)
	want = `  stage "count" repartitions its input by its key through topic "g-count-repartition"`
	if code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("exactly-once: exit %d, stdout %q, stderr %q; want the line %q", code, stdout, stderr, want)
	}

	file := filepath.Join(t.TempDir(), "file.toml")
	if err := os.WriteFile(file, []byte(`
[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = "orders.jsonl"
[[stages]]
id = "count"
function = "window.aggregate"
inputs = ["in"]
[stages.config]
group_by = ["country"]
size_ms = 1000
aggregates = { n = "count()" }
[[stages]]
id = "out"
function = "stdout.write"
inputs = ["count"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = cli(t, "validate", file)
	if code != 0 || strings.Contains(stdout, "repartition") {
		t.Errorf("without a Kafka source: exit %d, stdout %q, stderr %q; want no repartition", code, stdout, stderr)
	}
}
