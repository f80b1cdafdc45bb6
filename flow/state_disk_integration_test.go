package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// With [global] state_dir, dedupe.apply keeps its state on disk: the
// second run opens each partition's store at its checkpoint (reading the
// changelog only from there) and still drops the duplicates of records the
// first run passed.
func TestIntegrationDedupeOnDiskAcrossRuns(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("orders"), kafkatest.Name("distinct"), kafkatest.Name("g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 3)
	stateDir := t.TempDir()
	pipeline := fmt.Sprintf(`
[global]
state_dir = %[5]q

[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
until = "end"
timeout_ms = 60000
batch_size = 50

[[stages]]
id = "dedupe"
function = "dedupe.apply"
inputs = ["orders"]
[stages.config]
key = "order_id"
time_field = "ts"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["dedupe"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out, stateDir)
	orders := func(from, to int) []kafkatest.Msg {
		var msgs []kafkatest.Msg
		for i := from; i < to; i++ {
			id := fmt.Sprintf("o-%d", i)
			msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Key: []byte(id), Value: fmt.Appendf(nil, `{"order_id":%q,"ts":%d}`, id, 1_700_000_000_000+int64(i))})
		}
		return msgs
	}
	path := writePipeline(t, t.TempDir(), pipeline)
	run := func() *observer.ObservedLogs {
		p, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zap.InfoLevel)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := flow.Execute(ctx, p, flow.WithLogger(zap.New(core))); err != nil {
			t.Fatalf("run: %v", err)
		}
		return logs
	}
	env.Produce(t, in, orders(0, 600))
	run()
	// Every order again (duplicates of what the first run passed), and new ones.
	env.Produce(t, in, append(orders(0, 600), orders(600, 900)...))
	logs := run()
	if n := logs.FilterMessageSnippet("opened the disk store at its checkpoint").Len(); n != 3 {
		t.Errorf("%d partitions opened at their checkpoint in the second run, want 3", n)
	}
	changelog := group + "-dedupe-changelog"
	for p := range 3 {
		if _, err := os.Stat(filepath.Join(stateDir, changelog, fmt.Sprint(p))); err != nil {
			t.Errorf("no disk store for partition %d: %v", p, err)
		}
	}
	seen := map[string]int{}
	for _, m := range env.ReadAll(t, out) {
		var o struct {
			OrderID string `json:"order_id"`
		}
		if err := json.Unmarshal(m.Value, &o); err != nil {
			t.Fatal(err)
		}
		seen[o.OrderID]++
	}
	if len(seen) != 900 {
		t.Errorf("%d distinct orders out, want 900", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("order %s written %d times", id, n)
		}
	}
}

// The kill -9 test of windows (TestIntegrationWindowsSurviveKill9) with
// the state on disk: each restart opens the stores at their checkpoints,
// and no window is missing or miscounted.
func TestIntegrationWindowsOnDiskSurviveKill9(t *testing.T) {
	windowsSurviveKill9(t, fmt.Sprintf("[global]\nstate_dir = %q\n", t.TempDir()))
}
