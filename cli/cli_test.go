package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersion: `conveyor version` and `conveyor --version` print the same
// line, naming the Go version the test binary was built with.
func TestVersion(t *testing.T) {
	var lines []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := cli(t, args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "conveyor ") || !strings.HasSuffix(stdout, " "+runtime.Version()+"\n") {
			t.Errorf("conveyor %s: exit %d, stdout %q, stderr %q", args[0], code, stdout, stderr)
		}
		lines = append(lines, stdout)
	}
	if lines[0] != lines[1] {
		t.Errorf("version %q and --version %q differ", lines[0], lines[1])
	}
	if code, _, stderr := cli(t, "version", "extra"); code != 2 || !strings.Contains(stderr, "usage: conveyor version") {
		t.Errorf("version extra: exit %d, stderr %q", code, stderr)
	}
}

// TestVersionLine: what `go build` records (module version, commit, a
// modified tree) shows, and what it did not record says so.
func TestVersionLine(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "conveyor (devel) (commit unknown) " + runtime.Version()},
		{&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}, "conveyor (devel) (commit unknown) go1.99"},
		{&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("9fc9ad4e", "false")}, "conveyor v1.2.3 (commit 9fc9ad4e) go1.99"},
		{&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}, Settings: vcs("9fc9ad4e", "true")}, "conveyor (devel) (commit 9fc9ad4e+dirty) go1.99"},
	} {
		if got := versionLine(tc.info); got != tc.want {
			t.Errorf("versionLine = %q, want %q", got, tc.want)
		}
	}
}

// commands are every command with its flags (the ones --help must list).
var commands = map[string][]string{
	"run":       {"-log-level", "-log-format", "-no-progress"},
	"validate":  nil,
	"list":      nil,
	"info":      nil,
	"demo":      {"-records", "-log-level"},
	"dev-kafka": {"-port", "-partitions", "-records", "-no-seed"},
	"lag":       {"-format", "-group", "-topic", "-brokers", "-start-offset"},
	"graph":     {"-format"},
	"state":     {"-format", "-stage", "-key"},
	"produce":   {"-brokers", "-key-field"},
	"consume":   {"-brokers", "-from-beginning", "-n", "-group", "-until-end"},
	"test":      {"-broker", "-run"},
	"version":   nil,
}

// TestCommandHelp: `conveyor COMMAND --help` (and -h, and `conveyor help
// COMMAND`) prints the command's usage, listing every flag, and exits 0;
// an unknown flag is an error that shows the same usage and exits 2.
func TestCommandHelp(t *testing.T) {
	for name, flags := range commands {
		t.Run(name, func(t *testing.T) {
			var help string
			for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
				code, stdout, stderr := cli(t, args...)
				if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: conveyor "+name) {
					t.Errorf("conveyor %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout, stderr)
				}
				for _, f := range append(flags, "-h, --help") {
					if !strings.Contains(stdout, "\n  "+f) {
						t.Errorf("conveyor %s does not list %s:\n%s", strings.Join(args, " "), f, stdout)
					}
				}
				help = stdout
			}
			code, stdout, stderr := cli(t, name, "--no-such-flag")
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "conveyor "+name+": flag provided but not defined: -no-such-flag\n\n") ||
				!strings.HasSuffix(stderr, help) {
				t.Errorf("conveyor %s --no-such-flag: exit %d, stdout %q, stderr:\n%s", name, code, stdout, stderr)
			}
		})
	}
}

// copyPipeline is a pipeline that runs without Kafka: it copies the spec's
// data/events.json to out.
func copyPipeline(t *testing.T, out string) string {
	in, err := filepath.Abs("../examples/data/events.json")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`
[pipeline]
name = "copy"

[[stages]]
id = "load"
function = "json.read"
inputs = []
[stages.config]
path = %q

[[stages]]
id = "save"
function = "json.write"
inputs = ["load"]
[stages.config]
path = %q
`, in, out)
}

// countRecords is how many records the JSON array file at path holds.
func countRecords(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return len(recs)
}

// TestRunFlagsAfterFile: flags are taken after the pipeline file as well
// as before it; "--" ends them.
func TestRunFlagsAfterFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	path := filepath.Join(dir, "copy.toml")
	if err := os.WriteFile(path, []byte(copyPipeline(t, out)), 0o600); err != nil {
		t.Fatal(err)
	}
	want := countRecords(t, "../examples/data/events.json")
	for _, args := range [][]string{
		{"run", path, "--log-level", "debug", "--log-format", "json"},
		{"run", "--log-level", "debug", path, "--log-format=json"},
		{"run", "--log-level", "debug", "--log-format", "json", "--", path},
	} {
		os.Remove(out)
		code, _, stderr := cli(t, args...)
		if code != 0 || !strings.Contains(stderr, `{"level":"debug",`) {
			t.Errorf("conveyor %s: exit %d, want 0 with JSON debug logs; stderr:\n%s", strings.Join(args, " "), code, stderr)
			continue
		}
		if n := countRecords(t, out); n != want {
			t.Errorf("conveyor %s wrote %d records, want %d", strings.Join(args, " "), n, want)
		}
	}
	if code, _, stderr := cli(t, "run", path, path); code != 2 || !strings.Contains(stderr, "want one pipeline file, got 2 arguments\n\nusage: conveyor run") {
		t.Errorf("run with two files: exit %d, stderr %q", code, stderr)
	}
}

// withStdin makes text what the command reads as "-".
func withStdin(t *testing.T, text string) {
	old := stdin
	stdin = strings.NewReader(text)
	t.Cleanup(func() { stdin = old })
}

// TestPipelineFromStdin: "-" reads the pipeline from stdin, for run and
// validate, and errors name it <stdin>.
func TestPipelineFromStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.json")
	withStdin(t, copyPipeline(t, out))
	if code, _, stderr := cli(t, "run", "-", "--log-level", "warn"); code != 0 || !strings.Contains(stderr, "conveyor: copy: ") {
		t.Fatalf("run -: exit %d, stderr:\n%s", code, stderr)
	}
	if n, want := countRecords(t, out), countRecords(t, "../examples/data/events.json"); n != want {
		t.Errorf("run - wrote %d records, want %d", n, want)
	}

	withStdin(t, copyPipeline(t, out))
	if code, stdout, stderr := cli(t, "validate", "-"); code != 0 || stdout != "-: ok\n" {
		t.Errorf("validate -: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	withStdin(t, "[[stages]]\nid = \"load\"\nfunction = \"json.read\"\ninputs = []\n[stages.config]\npaht = \"x.json\"\n")
	code, stdout, stderr := cli(t, "validate", "-")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "\n<stdin>:6:1: stages[0] \"load\" config.paht: unknown key") {
		t.Errorf("validate - (broken): exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
