package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

// FuzzParse feeds arbitrary bytes to the parser and the whole validation
// (every stage's config decoded by its function): neither may panic, and
// every line of an error names the file. Seeds: the spec's examples and the
// broken-pipeline corpus in testdata/broken.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"../examples/*.toml", "../testdata/broken/*.toml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("[[stages]]\nid = \"${X:-a}\"\nfunction = \"{{f}}\"\n[global.variables]\nf = \"kafka\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := config.Parse("fuzz.toml", data)
		if err == nil {
			err = flow.Validate(p)
		}
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "fuzz.toml") {
				t.Fatalf("error line %q does not name the file; whole error:\n%v", line, err)
			}
		}
	})
}
