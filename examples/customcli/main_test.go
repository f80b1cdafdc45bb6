package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain runs main itself when the test re-executes its own binary with
// CUSTOMCLI_MAIN=1, so the tests below drive the program as a user does:
// arguments in, exit code and output out.
func TestMain(m *testing.M) {
	if os.Getenv("CUSTOMCLI_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// customcli runs this program with args in dir.
func customcli(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CUSTOMCLI_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// TestOwnOperatorWithTheWholeCLI: validate, info and run know orders.shape,
// the program's own operator, and the run applies it between built-in
// stages.
func TestOwnOperatorWithTheWholeCLI(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"orders.toml", "orders.jsonl"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, stderr := customcli(t, dir, "validate", "orders.toml"); code != 0 || stdout != "orders.toml: ok\n" {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := customcli(t, dir, "info", "orders.shape"); code != 0 || !strings.Contains(stdout, "\n  into ") {
		t.Errorf("info orders.shape: exit %d, stdout %q", code, stdout)
	}
	code, _, stderr := customcli(t, dir, "run", "orders.toml")
	if code != 0 || !strings.Contains(stderr, "conveyor: orders: records in=3 out=2 filtered=1 ") {
		t.Fatalf("run: exit %d, stderr:\n%s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "output", "totals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"price":25,"qty":4,"total":100}` + "\n" + `{"id":3,"price":120,"qty":1,"total":120}` + "\n"
	if string(got) != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	// A misspelled key of the operator is reported like a built-in's.
	broken := strings.Replace(mustRead(t, filepath.Join(dir, "orders.toml")), `into = "total"`, `intoo = "total"`, 1)
	os.WriteFile(filepath.Join(dir, "broken.toml"), []byte(broken), 0o600)
	if code, _, stderr := customcli(t, dir, "validate", "broken.toml"); code != 1 || !strings.Contains(stderr, `stages[1] "shape" config.intoo: unknown key (did you mean "into"?)`) {
		t.Errorf("validate broken.toml: exit %d, stderr %q", code, stderr)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOwnOperatorTests: `customcli test` runs orders_test.toml, whose
// pipeline needs orders.shape, which only this program knows.
func TestOwnOperatorTests(t *testing.T) {
	code, stdout, stderr := customcli(t, ".", "test", "orders_test.toml")
	if code != 0 || stderr != "" || !strings.HasSuffix(stdout, "ok: 2 case(s) in 1 file(s)\n") {
		t.Fatalf("test: exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}
