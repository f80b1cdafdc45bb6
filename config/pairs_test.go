package config_test

import (
	"testing"

	"github.com/conveyor-etl/conveyor/config"
)

type pairsConfig struct {
	Set config.Pairs `key:"set"`
}

// A Pairs table keeps the file's order of keys, inline or as a sub-table,
// whatever their names sort as.
func TestPairsFileOrder(t *testing.T) {
	for name, src := range map[string]string{
		"inline": `[[stages]]
id = "a"
function = "y"

[[stages]]
id = "s"
function = "x"
inputs = ["a"]
config.set = { zeta = "1", "b.c" = "2", alpha = 3 }
`,
		"table": `[[stages]]
id = "a"
function = "y"

[[stages]]
id = "s"
function = "x"
inputs = ["a"]
[stages.config.set]
zeta = "1"
"b.c" = "2"
alpha = 3
`} {
		p, err := config.Parse("p.toml", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var c pairsConfig
		if err := config.DecodeStage(&p.Stages[1], &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, pr := range c.Set {
			got = append(got, pr.Key+"="+pr.Value)
		}
		if len(got) != 3 || got[0] != "zeta=1" || got[1] != "b.c=2" || got[2] != "alpha=3" {
			t.Errorf("%s: %v", name, got)
		}
		if c.Set[0].Pos.Line == 0 {
			t.Errorf("%s: no position", name)
		}
	}
	if d := config.Describe(&pairsConfig{}); d[0].Type != "table of strings, in order" {
		t.Errorf("type %q", d[0].Type)
	}
}
