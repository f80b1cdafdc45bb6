package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/plugin"
)

type rangeCfg struct {
	Min int `key:"min"`
	Max int `key:"max"`
}

// withRange adds "range": an operator keeping the records whose n is in
// [min, max).
func withRange(reg *plugin.Registry) *plugin.Registry {
	if err := reg.Register(&plugin.Spec{Name: "range", Plugin: "test", Operator: plugin.NewFactory(
		func() *rangeCfg { return &rangeCfg{Max: 1 << 30} },
		func(_ context.Context, c *rangeCfg, _ plugin.Env) (plugin.Operator, error) {
			return plugin.OperatorFunc(func(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
				for _, r := range in {
					var v struct{ N int }
					if json.Unmarshal(r.Value, &v) == nil && v.N >= c.Min && v.N < c.Max {
						out = append(out, r)
					}
				}
				return out
			}), nil
		})}); err != nil {
		panic(err)
	}
	return reg
}

// The run's totals count each record read once under fan-out: filtered are
// the records that reached no sink and that no stage gave up on, however
// many branches dropped them. The stages' own counts stay per stage.
func TestFanOutTotalsCountRecordsOnce(t *testing.T) {
	const branches = `
[[stages]]
id = "src"
function = "count"
[stages.config]
n = 100
batch = 16

[[stages]]
id = "high"
function = "range"
inputs = ["src"]
[stages.config]
min = 50

[[stages]]
id = "low"
function = "range"
inputs = ["src"]
[stages.config]
max = 20

[[stages]]
id = "out-high"
function = "flaky"
inputs = ["high"]

[[stages]]
id = "out-low"
function = "flaky"
inputs = ["low"]
`
	// A third branch fails every tenth record (given up on: continue) and
	// passes the others on.
	const failing = `
[[stages]]
id = "check"
function = "failop"
inputs = ["src"]
[stages.config]
fail = ["0", "10", "20", "30", "40", "50", "60", "70", "80", "90"]

[[stages]]
id = "out-check"
function = "flaky"
inputs = ["check"]
`
	for _, tc := range []struct {
		name                  string
		text                  string
		out, filtered, failed int64
		highFiltered, lowFilt int64
	}{
		// 20..49 reach neither sink: 30, where the stages dropped 50 + 80.
		{"two filters", branches, 70, 30, 0, 50, 80},
		// Every record but the ten failed ones reaches out-check; 20, 30
		// and 40 reach no sink but were given up on, so are failed only.
		{"and a branch that fails some", branches + failing, 160, 0, 10, 50, 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			p := pipeline(t, tc.text+"\n[error_handling]\nstrategy = \"continue\"\n")
			sum, err := Run(context.Background(), p, Options{Registry: withRange(w.registry()), DrainTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if sum.In != 100 || sum.Out != tc.out || sum.Filtered != tc.filtered || sum.Failed != tc.failed {
				t.Errorf("totals %s; want in=100 out=%d filtered=%d failed=%d", sum, tc.out, tc.filtered, tc.failed)
			}
			if sum.Filtered > sum.In {
				t.Errorf("filtered %d exceeds in %d", sum.Filtered, sum.In)
			}
			stage := map[string]StageSummary{}
			for _, s := range sum.Stages {
				stage[s.ID] = s
			}
			if stage["high"].Filtered != tc.highFiltered || stage["low"].Filtered != tc.lowFilt {
				t.Errorf("stages %s; want high filtered=%d, low filtered=%d", sum.stagesText(), tc.highFiltered, tc.lowFilt)
			}
		})
	}
}

// Without a fork the stages' drops add up to the run's filtered total, as
// before.
func TestChainTotals(t *testing.T) {
	w := &world{}
	p := pipeline(t, fmt.Sprintf(`
[[stages]]
id = "src"
function = "count"
[stages.config]
n = 100
batch = 16

[[stages]]
id = "high"
function = "range"
inputs = ["src"]
[stages.config]
min = 50

[[stages]]
id = "low"
function = "range"
inputs = ["high"]
[stages.config]
max = %d

[[stages]]
id = "out"
function = "flaky"
inputs = ["low"]
`, 80))
	sum, err := Run(context.Background(), p, Options{Registry: withRange(w.registry()), DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.In != 100 || sum.Out != 30 || sum.Filtered != 70 {
		t.Errorf("totals %s; want in=100 out=30 filtered=70", sum)
	}
}
