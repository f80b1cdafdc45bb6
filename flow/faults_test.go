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

// A topic that does not exist on a broker that does not create topics, as
// the source's input or the sink's output: a clear error, in seconds.
func TestMissingTopicFailsClearly(t *testing.T) {
	for _, tc := range []struct{ name, in, out, want string }{
		{"source", "no-such-topic", "out", `kafka source "consume": topic "no-such-topic" does not exist`},
		{"sink", "in", "no-such-topic", `kafka sink "produce": topic "no-such-topic" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := devkafka.Start(devkafka.Options{NoAutoCreate: true, Topics: map[string]int32{"in": 1, "out": 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			took, err := runText(t, etlText(b.Addr, tc.in, tc.out, "g", ""), time.Minute)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "create it first") {
				t.Fatalf("error %v; want one saying %s", err, tc.want)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to fail", took)
			}
		})
	}
}

// A group the broker refuses (here: a session timeout above the broker's
// maximum) fails the run with what to change, instead of retrying forever.
func TestWrongGroupConfigFailsClearly(t *testing.T) {
	b, err := devkafka.Start(devkafka.Options{MaxSessionTimeout: 20 * time.Second, Topics: map[string]int32{"in": 1, "out": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	took, err := runText(t, etlText(b.Addr, "in", "out", "g", "session_timeout_ms = 30000\nmax_messages = 0"), time.Minute)
	want := `kafka source "consume": consumer group "g": session_timeout_ms is outside the range the broker allows`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v; want one saying %s", err, want)
	}
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
	if took > 15*time.Second {
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
