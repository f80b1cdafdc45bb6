package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGraphGolden checks `conveyor graph` in both formats against golden
// files in testdata/graph (go test -update rewrites them): the spec's
// Example 3, a straight line, and a fan-in/fan-out pipeline whose stage ids
// need escaping.
func TestGraphGolden(t *testing.T) {
	pipelines := map[string]string{
		"kafka-etl-example": "../examples/kafka-etl-example.toml",
		"fan":               "testdata/graph/fan.toml",
		"repartition":       "testdata/graph/repartition.toml",
	}
	for name, path := range pipelines {
		for format, ext := range map[string]string{"mermaid": ".mmd", "dot": ".dot"} {
			t.Run(name+ext, func(t *testing.T) {
				code, stdout, stderr := cli(t, "graph", "--format", format, path)
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q", code, stderr)
				}
				golden := filepath.Join("testdata/graph", name+ext)
				if *update {
					if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if stdout != string(want) {
					t.Errorf("differs from %s:\n--- got\n%s--- want\n%s", golden, stdout, want)
				}
			})
		}
	}
}

// TestGraphDefaultsAndErrors checks that Mermaid is the default, that flags
// may follow the file, and what a user sees for a broken pipeline, a bad
// format and --help.
func TestGraphDefaultsAndErrors(t *testing.T) {
	const example = "../examples/kafka-etl-example.toml"
	_, mermaid, _ := cli(t, "graph", example)
	if !strings.HasPrefix(mermaid, "flowchart LR\n") {
		t.Errorf("default format: %q", mermaid)
	}
	_, dotBefore, _ := cli(t, "graph", "--format", "dot", example)
	code, dotAfter, _ := cli(t, "graph", example, "--format", "dot")
	if code != 0 || dotAfter != dotBefore || !strings.HasPrefix(dotAfter, "digraph ") {
		t.Errorf("--format after the file: exit %d, %q", code, dotAfter)
	}

	cycle := filepath.Join(t.TempDir(), "cycle.toml")
	writeErr := os.WriteFile(cycle, []byte(`[[stages]]
id = "a"
function = "filter.apply"
inputs = ["b"]
[stages.config]
column = "x"
operator = "=="
value = "1"

[[stages]]
id = "b"
function = "filter.apply"
inputs = ["a"]
[stages.config]
column = "x"
operator = "=="
value = "1"
`), 0o644)
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	code, stdout, stderr := cli(t, "graph", cycle)
	if code != 1 || stdout != "" || !strings.Contains(stderr, cycle+":13:1: stages[1] \"b\" inputs: cycle: a -> b -> a\n") {
		t.Errorf("cycle: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := cli(t, "graph", "--format", "png", example); code != 2 || !strings.Contains(stderr, `want mermaid or dot, got "png"`) {
		t.Errorf("--format png: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := cli(t, "graph"); code != 2 || !strings.Contains(stderr, "usage: conveyor graph") {
		t.Errorf("no file: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := cli(t, "graph", "--help"); code != 0 || !strings.HasPrefix(stdout, "usage: conveyor graph") || !strings.Contains(stdout, "-format") || stderr != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
