package cli

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugin"
)

// The README's list of the keys of [pipeline], [global] and
// [error_handling] sits between these lines and is written from the tags
// of config's types, as `conveyor info TABLE` prints them.
const (
	readmePath  = "../README.md"
	tablesStart = "<!-- tables: written from config's struct tags by `go test ./cli -run TestReadmeTables -update` -->\n"
	tablesEnd   = "<!-- end of tables -->\n"
)

func tablesMarkdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | |\n|---|---|---|---|\n")
	for _, name := range config.TableNames() {
		keys, _ := config.DescribeTable(name)
		fmt.Fprintf(&b, "| **`[%s]`** | | | |\n", name)
		for _, k := range keys {
			typ := strings.ReplaceAll(keyType(k), "|", ", ")
			def := keyDefault(k)
			if def != "-" {
				def = "`" + def + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Key, typ, def, strings.ReplaceAll(k.Doc, "|", `\|`))
		}
	}
	return b.String()
}

// TestReadmeTables: the README documents every key of the top-level tables,
// with its type, bounds and default, as the tags say.
func TestReadmeTables(t *testing.T) {
	readmeSection(t, tablesStart, tablesEnd, tablesMarkdown(), "TestReadmeTables")
}

// The README's first screen lists the functions between these lines,
// written from the registry as `conveyor list` prints them.
const (
	functionsStart = "<!-- functions: written from the registry by `go test ./cli -run TestReadmeFunctions -update` -->\n"
	functionsEnd   = "<!-- end of functions -->\n"
)

// functionsMarkdown is the table of reg's functions: name, roles, and the
// summary `conveyor list` shows.
func functionsMarkdown(reg *plugin.Registry) string {
	var b strings.Builder
	b.WriteString("| Function | Role | What it does |\n|---|---|---|\n")
	for _, name := range reg.Names() {
		s, _ := reg.Lookup(name)
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, strings.Join(roles(s), ", "), strings.ReplaceAll(s.Summary, "|", `\|`))
	}
	return b.String()
}

// TestReadmeFunctions: the README's table of functions is the registry's,
// so it cannot drift from `conveyor list`: a function added, removed or
// re-summarised fails this test until the table is rewritten (-update).
func TestReadmeFunctions(t *testing.T) {
	readmeSection(t, functionsStart, functionsEnd, functionsMarkdown(flow.Registry()), "TestReadmeFunctions")
}

// readmeSection checks that the README holds want between the lines start
// and end, or with -update writes it there.
func readmeSection(t *testing.T, start, end, want, test string) {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	before, rest, ok1 := strings.Cut(readme, start)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the lines %q and %q", start, end)
	}
	whole := before + start + want + end + after
	if *update {
		if err := os.WriteFile(readmePath, []byte(whole), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if readme != whole {
		t.Errorf("README.md is not what it should be between %q and %q; run go test ./cli -run %s -update. Want:\n%s", start, end, test, want)
	}
}

// TestInfoTables: `conveyor info global` lists the table's keys from its
// tags, with bounds and defaults; a near miss gets a did-you-mean.
func TestInfoTables(t *testing.T) {
	code, stdout, stderr := cli(t, "info", "global")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "[global]:\n") {
		t.Fatalf("info global: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{"\n  max_inflight_mb   integer (MiB), 1 to 1048576  64 ", "\n  log_level ", "\n  plugins "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info global lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = cli(t, "info", "error_handling")
	if code != 0 || !strings.Contains(stdout, "max_retries          integer, >= 0        3 ") {
		t.Errorf("info error_handling: exit %d\n%s", code, stdout)
	}
	code, _, stderr = cli(t, "info", "globl")
	if code != 1 || stderr != "conveyor: unknown function or table \"globl\" (did you mean \"global\"?)\n" {
		t.Errorf("info globl: exit %d, stderr %q", code, stderr)
	}
}
