package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestTestCommand: `conveyor test` runs the examples' tests (exit 0), and
// a failing case exits 1 naming the record that differs, the input and
// source it came from, with the diff.
func TestTestCommand(t *testing.T) {
	code, stdout, stderr := cli(t, "test", "../examples/kafka-consumer-example_test.toml", "../examples/kafka-etl-example_test.toml", "../examples/kafka-producer-example_test.toml")
	if code != 0 || stderr != "" || !strings.HasSuffix(stdout, "\nok: 4 case(s) in 3 file(s)\n") {
		t.Fatalf("test ../examples: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
	dir := t.TempDir()
	test := filepath.Join(dir, "etl_test.toml")
	pipeline, _ := filepath.Abs("../examples/kafka-etl-example.toml")
	err := os.WriteFile(test, []byte(`pipeline = "`+pipeline+`"

[[tests]]
name = "an amount that changed"

[[tests.input]]
value = { user_id = 7, amount = 150 }

[[tests.output]]
fields = { amount = 151 }
key = "7"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = cli(t, "test", dir)
	stdout = regexp.MustCompile(`\(\d+\.\d\ds\)`).ReplaceAllString(stdout, "(0.00s)")
	want := "=== " + test + `
--- FAIL: an amount that changed (0.00s)
    ` + test + `:9:1: sink "produce" record 1 (from input 1 at line 6, source "consume") differs:
        field amount: want 151, got 150
FAIL: 1 of 1 case(s) failed
`
	if code != 1 || stderr != "" || stdout != want {
		t.Fatalf("test %s: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", dir, code, stderr, stdout, want)
	}
	code, stdout, _ = cli(t, "test", "--run", "^filtered", "../examples/kafka-etl-example_test.toml")
	if code != 0 || strings.Contains(stdout, "keyed by user_id") || !strings.HasSuffix(stdout, "\nok: 0 case(s) in 1 file(s)\n") {
		t.Errorf("--run ^filtered: exit %d, stdout:\n%s", code, stdout)
	}
	code, stdout, _ = cli(t, "test", "--run", "keyed", "../examples/kafka-etl-example_test.toml")
	if code != 0 || !strings.Contains(stdout, "--- PASS: events of 100 or more go on, keyed by user_id") || strings.Contains(stdout, "not failed") ||
		!strings.HasSuffix(stdout, "\nok: 1 case(s) in 1 file(s)\n") {
		t.Errorf("--run keyed: exit %d, stdout:\n%s", code, stdout)
	}
	if code, _, stderr = cli(t, "test", "--broker", "nope", dir); code != 2 || !strings.Contains(stderr, "--broker: want fixtures or embedded") {
		t.Errorf("--broker nope: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr = cli(t, "test", t.TempDir()); code != 1 || !strings.Contains(stderr, "no *_test.toml file under") {
		t.Errorf("empty directory: exit %d, stderr %q", code, stderr)
	}
}
