package all_test

import (
	"slices"
	"testing"

	_ "github.com/conveyor-etl/conveyor/connectors/all"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Importing the package registers exactly the built-in functions its doc
// lists, each under its plugin name.
func TestRegistersTheBuiltIns(t *testing.T) {
	want := []string{"dedupe.apply", "fields.drop", "fields.rename", "fields.select", "fields.set", "filter.apply", "filter.expr", "json.extract", "json.read", "json.write", "kafka", "sql.outbox", "sql.write", "stdout.write", "table.join", "window.aggregate"}
	if got := plugin.Default().Names(); !slices.Equal(got, want) {
		t.Errorf("registered %q, want %q", got, want)
	}
	if got, want := plugin.Default().Plugins(), []string{"dedupe", "fields", "filter", "json", "kafka", "sql", "stdout", "window"}; !slices.Equal(got, want) {
		t.Errorf("plugins %q, want %q", got, want)
	}
}
