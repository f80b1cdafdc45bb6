package flow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
)

// runText parses and runs a pipeline, returning the error and how long it took.
func runText(t *testing.T, text string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	p, err := config.Parse("faults.toml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err = flow.Run(ctx, p)
	return time.Since(start), err
}

// Nothing listening: a clear error naming the brokers and what to do,
// within a bounded time, not a hang.
func TestUnreachableBrokerFailsFast(t *testing.T) {
	took, err := runText(t, etlText("127.0.0.1:1", "in", "out", "g", ""), time.Minute)
	if err == nil {
		t.Fatal("run against a closed port succeeded")
	}
	for _, want := range []string{"cannot reach brokers 127.0.0.1:1", "connection refused", "conveyor dev-kafka"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if took > 20*time.Second {
		t.Errorf("took %s to fail", took)
	}
}

// A topic that does not exist on a broker that does not create topics.
func TestMissingTopicFailsClearly(t *testing.T) {
	b, err := devkafka.Start(devkafka.Options{NoAutoCreate: true, Topics: map[string]int32{"out": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	took, err := runText(t, etlText(b.Addr, "no-such-topic", "out", "g", ""), time.Minute)
	if err == nil || !strings.Contains(err.Error(), `topic "no-such-topic" does not exist`) || !strings.Contains(err.Error(), "create it first") {
		t.Fatalf("error %v; want one saying the topic does not exist", err)
	}
	if took > 30*time.Second {
		t.Errorf("took %s to fail", took)
	}
}

func etlText(brokers, in, out, group, extra string) string {
	return strings.NewReplacer("@B", brokers, "@IN", in, "@OUT", out, "@G", group, "@X", extra).Replace(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "@B"
topic = "@IN"
group_id = "@G"
@X
[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = "@B"
topic = "@OUT"
`)
}
