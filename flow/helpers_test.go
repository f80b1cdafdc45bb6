package flow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/examples"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestMain doubles as a pipeline runner: with CONVEYOR_CHILD_PIPELINE set,
// the test binary runs that pipeline like `conveyor run` (SIGTERM drains)
// and exits, so tests can kill -9 a real process mid-stream. With
// CONVEYOR_CHILD_NOLOG set too, it runs without flow.WithLogger.
func TestMain(m *testing.M) {
	if path := os.Getenv("CONVEYOR_CHILD_PIPELINE"); path != "" {
		os.Exit(child(path))
	}
	os.Exit(m.Run())
}

func child(path string) int {
	p, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log, _ := zap.NewDevelopment()
	if os.Getenv("CONVEYOR_CHILD_QUIET") != "" {
		cfg := zap.NewDevelopmentConfig()
		cfg.Level = zap.NewAtomicLevelAt(zap.InfoLevel)
		cfg.DisableStacktrace = true
		log, _ = cfg.Build()
	}
	opts := []flow.Option{flow.WithRegistry(testRegistry())}
	if os.Getenv("CONVEYOR_CHILD_NOLOG") == "" { // with it: flow.Run's default, no logger
		opts = append(opts, flow.WithLogger(log))
	}
	if err := flow.Run(ctx, p, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild runs the pipeline file in a child process.
func startChild(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CONVEYOR_CHILD_PIPELINE="+path)
	childLogs(t, cmd, filepath.Base(filepath.Dir(path)))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// childLogs sends a child's logs to stderr when CONVEYOR_CHILD_LOGS is
// set; otherwise it keeps them (info and up) and prints their last 150
// lines only if the test fails.
func childLogs(t *testing.T, cmd *exec.Cmd, name string) {
	if os.Getenv("CONVEYOR_CHILD_LOGS") != "" {
		cmd.Stderr = os.Stderr
		return
	}
	cmd.Env = append(cmd.Env, "CONVEYOR_CHILD_QUIET=1")
	buf := &lockedBuffer{}
	cmd.Stderr = buf
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			t.Logf("last %d log lines of child %s:\n%s", min(len(lines), 150), name, strings.Join(lines[max(0, len(lines)-150):], "\n"))
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// example returns a spec example with brokers and names substituted, so
// that tests on a shared real broker do not collide.
func example(t *testing.T, name string, env kafkatest.Env, replace ...string) string {
	t.Helper()
	b, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	r := append([]string{`"localhost:9092"`, fmt.Sprintf("%q", env.BrokerList())}, replace...)
	return strings.NewReplacer(r...).Replace(string(b))
}

// writePipeline writes text to dir/pipeline.toml and returns the path.
func writePipeline(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "pipeline.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runFile loads and runs a pipeline file in process.
func runFile(t *testing.T, path string) flow.Summary {
	t.Helper()
	p, err := config.Load(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := flow.Execute(ctx, p, flow.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("summary: %s", sum)
	return sum
}

// event is the shape of the test records.
type event struct {
	EventID string  `json:"event_id"`
	UserID  int     `json:"user_id"`
	Event   string  `json:"event"`
	Amount  float64 `json:"amount"`
}

// events makes n events spread over partitions by key "user-N"; amounts
// cycle through 0..249 so that 60% pass amount >= 100.
func events(n int) ([]kafkatest.Msg, []event) {
	msgs := make([]kafkatest.Msg, n)
	evs := make([]event, n)
	ids := []int{1, 12, 123, 1234, 12345, 7, 42}
	for i := range msgs {
		e := event{EventID: fmt.Sprintf("e-%06d", i), UserID: ids[i%len(ids)], Event: "purchase", Amount: float64(i % 250)}
		v, _ := json.Marshal(e)
		evs[i] = e
		msgs[i] = kafkatest.Msg{Partition: int32(i % 3), Key: []byte(fmt.Sprintf("user-%d", e.UserID)), Value: v}
	}
	return msgs, evs
}

// decoded is an output record with its Kafka metadata.
type decoded struct {
	event
	KafkaKey       *string `json:"_kafka_key"`
	KafkaPartition int32   `json:"_kafka_partition"`
	KafkaOffset    int64   `json:"_kafka_offset"`
	KafkaTimestamp int64   `json:"_kafka_timestamp"`
	KafkaPayload   *string `json:"_kafka_payload"`
}

func decode(t *testing.T, v []byte) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal(v, &d); err != nil {
		t.Fatalf("output %q is not JSON: %v", v, err)
	}
	return d
}

// noRaceChaos skips a multi-process chaos test (kill -9, scale out and in)
// under -race. -race checks nothing in a child killed with kill -9, and
// these tests, mostly wall-clock feeds and session timeouts, took about
// 260 s of the flow package's race run: with them it passed go test's
// default 10-minute timeout, which the README's `go test -race ./...`
// uses, on a loaded machine. They run without -race (go test ./flow), and
// on real Kafka in .ci/run's integration and fault steps.
func noRaceChaos(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("a multi-process chaos test: it runs without -race (go test -run '" + t.Name() + "' ./flow), and on real Kafka in .ci/run")
	}
}
