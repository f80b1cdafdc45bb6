package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunLogs: a pipeline without a name is called by its file in the
// logs and the summary; durations are logged with their unit; console
// logs to something that is not a terminal have no colour codes; the
// summary line is the one the README shows.
func TestRunLogs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.toml")
	text := strings.Replace(copyPipeline(t, filepath.Join(dir, "out.json")), "[pipeline]\nname = \"copy\"\n", "", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	summary := regexp.MustCompile(`(?m)^conveyor: ` + regexp.QuoteMeta(path) +
		`: records in=\d+ out=\d+ filtered=0 failed=0 dead_lettered=0 elapsed=[0-9.]+(µs|ms|s) throughput=\d+ rec/s \| stages: load in=\d+ out=\d+; save in=\d+ out=\d+$`)

	code, _, stderr := cli(t, "run", path, "--log-format", "json")
	if code != 0 || !summary.MatchString(stderr) {
		t.Errorf("json: exit %d, want the summary line naming %s; stderr:\n%s", code, path, stderr)
	}
	finished := regexp.MustCompile(`"msg":"pipeline finished","pipeline":"` + regexp.QuoteMeta(path) + `",.*"elapsed":"[0-9.]+(µs|ms|s)"`)
	if !finished.MatchString(stderr) {
		t.Errorf("json: want \"pipeline finished\" naming the file, with elapsed as a duration string; stderr:\n%s", stderr)
	}

	code, _, stderr = cli(t, "run", path, "--log-format", "console")
	if code != 0 || strings.Contains(stderr, "\x1b[") || !strings.Contains(stderr, "\tINFO\t") || !summary.MatchString(stderr) {
		t.Errorf("console to a buffer: exit %d, want plain INFO levels (no ANSI escapes) and the summary; stderr:\n%q", code, stderr)
	}

	// The README quotes the summary line as printed.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile("`conveyor: [^`:]+: (records in=[^`]+)`").FindSubmatch(readme)
	if quoted == nil {
		t.Fatal("README quotes no summary line (`conveyor: NAME: records in=…`)")
	}
	shape := regexp.MustCompile(`in=\d+ out=\d+ filtered=\d+ failed=\d+ dead_lettered=\d+ elapsed=[0-9.]+(µs|ms|s) throughput=\d+ rec/s \| stages: (\S+ in=\d+ out=\d+( filtered=\d+)?(; )?)+$`)
	if !shape.Match(quoted[1]) {
		t.Errorf("README's summary line %q is not shaped like the one printed", quoted[1])
	}
}
