package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSummaryJSON: `run --summary-json FILE` writes the run's totals and
// per-stage counts (json.read → filter.apply → json.write over the
// example's 50 events, 38 of them with amount >= 100), and the summary line
// breaks the counts down per stage. A run that fails writes ok false and
// the error.
func TestSummaryJSON(t *testing.T) {
	dir := t.TempDir()
	in, err := filepath.Abs("../examples/data/events.json")
	if err != nil {
		t.Fatal(err)
	}
	pipeline := func(input string) string {
		return fmt.Sprintf(`
[pipeline]
name = "summary"
[[stages]]
id = "load"
function = "json.read"
[stages.config]
path = %q
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
column = "amount"
operator = ">="
value = 100
[[stages]]
id = "save"
function = "json.write"
inputs = ["big"]
[stages.config]
path = %q
`, input, filepath.Join(dir, "out.json"))
	}
	path := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(path, []byte(pipeline(in)), 0o600); err != nil {
		t.Fatal(err)
	}
	sumPath := filepath.Join(dir, "summary.json")
	code, _, stderr := cli(t, "run", path, "--log-level", "warn", "--summary-json", sumPath)
	if code != 0 {
		t.Fatalf("run: exit %d, stderr:\n%s", code, stderr)
	}
	if want := " | stages: load in=50 out=50; big in=50 out=38 filtered=12; save in=38 out=38\n"; !strings.Contains(stderr, want) {
		t.Errorf("summary line does not end with %q; stderr:\n%s", want, stderr)
	}
	got := readSummary(t, sumPath)
	want := runSummary{SchemaVersion: 1, Pipeline: "summary", File: path, OK: true,
		Totals: summaryTotals{In: 50, Out: 38, Filtered: 12},
		Stages: []summaryStage{
			{ID: "load", Function: "json.read", Role: "source", In: 50, Out: 50},
			{ID: "big", Function: "filter.apply", Role: "operator", In: 50, Out: 38, Filtered: 12},
			{ID: "save", Function: "json.write", Role: "sink", In: 38, Out: 38},
		}}
	if got.Elapsed <= 0 || got.Rate <= 0 || got.Totals.InBytes <= 0 {
		t.Errorf("elapsed_seconds %v, records_per_second %v, in_bytes %d: want all > 0", got.Elapsed, got.Rate, got.Totals.InBytes)
	}
	got.Elapsed, got.Rate, got.Totals.InBytes = 0, 0, 0
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("summary JSON\n got %s\nwant %s", g, w)
	}

	// a run that fails: the input is not there
	if err := os.WriteFile(path, []byte(pipeline(filepath.Join(dir, "missing.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, "run", path, "--log-level", "error", "--summary-json", sumPath); code != 1 {
		t.Fatalf("run of a missing input: exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if got := readSummary(t, sumPath); got.OK || !strings.Contains(got.Error, "missing.json") {
		t.Errorf("failed run's summary: ok %v, error %q; want ok false and the error naming missing.json", got.OK, got.Error)
	}
}

func readSummary(t *testing.T, path string) runSummary {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s runSummary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return s
}
