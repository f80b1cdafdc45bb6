package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestValidateWarnsMissingInput: validate accepts a pipeline whose
// json.read file does not exist (exit 0, "ok"), with a warning naming the
// file, line and column of the path, the stage and the resolved path.
func TestValidateWarnsMissingInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.toml")
	text := strings.Replace(copyPipeline(t, filepath.Join(dir, "out.json")), "path = \"/", "path = \"/no/such/dir/", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	in, _ := filepath.Abs("../examples/data/events.json")
	code, stdout, stderr := cli(t, "validate", path)
	want := path + `:10:1: stages[0] "load" config.path: warning: /no/such/dir` + in + " does not exist (yet): a run fails unless it is there by then\n"
	if code != 0 || stdout != path+": ok\n" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr\n%s\nwant exit 0, ok, and\n%s", code, stdout, stderr, want)
	}

	// The file there: no warning.
	os.WriteFile(path, []byte(copyPipeline(t, filepath.Join(dir, "out.json"))), 0o600)
	if code, stdout, stderr := cli(t, "validate", path); code != 0 || stdout != path+": ok\n" || stderr != "" {
		t.Errorf("existing input: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestRunEmptyInput: a run whose json.read file is empty ends by saying
// so, naming the stage and the file, before the summary.
func TestRunEmptyInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in, _ := filepath.Abs("../examples/data/events.json")
	path := filepath.Join(dir, "p.toml")
	text := strings.Replace(copyPipeline(t, filepath.Join(dir, "out.json")), in, empty, 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "run", path, "--log-format", "json")
	warning := regexp.MustCompile(`"msg":"pipeline finished".*\nconveyor: stage "load" \(json.read\): ` + regexp.QuoteMeta(empty) + ` holds no records\nconveyor: copy: records in=0 `)
	if code != 0 || !warning.MatchString(stderr) {
		t.Errorf("exit %d, want 0 with a warning about %s before the summary; stderr:\n%s", code, empty, stderr)
	}
}
