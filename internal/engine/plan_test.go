package engine

import (
	"errors"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Compile's errors carry a kind, so that a caller (the CLI, an embedder)
// branches on the kind instead of parsing messages.
func TestCompileErrorKinds(t *testing.T) {
	reg := plugin.NewRegistry()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.Register(&plugin.Spec{Name: "src", Plugin: "t", Source: plugin.NewFactory[struct{}, plugin.Source](func() *struct{} { return &struct{}{} }, nil)}))
	must(reg.Register(&plugin.Spec{Name: "op", Plugin: "t", Operator: plugin.NewFactory[struct{}, plugin.Operator](func() *struct{} { return &struct{}{} }, nil)}))
	p := pipeline(t, `
[global]
plugins = ["t", "tt"]
[[stages]]
id = "a"
function = "src"
inputs = []
[[stages]]
id = "b"
function = "opp"
inputs = ["a"]
[[stages]]
id = "c"
function = "op"
inputs = ["a"]
`)
	_, err := Compile(p, reg)
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v, want config.Errors", err)
	}
	bad, graph := es.Of(config.BadValue), es.Of(config.Graph)
	if len(bad) != 2 || len(graph) != 1 {
		t.Fatalf("want 2 BadValue (plugin tt, function opp) and 1 Graph (nothing reads c), got:\n%v", err)
	}
	if bad[0].Key != "global.plugins" || bad[1].Key != "function" || graph[0].StageID != "c" {
		t.Errorf("kinds on the wrong errors:\n%v", err)
	}
}
