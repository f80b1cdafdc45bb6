package sql_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// The crash tests run the real conveyor binary, kill -9 it mid-stream a
// few times, restart it, and check that nothing was lost: every id arrives
// at least once. Duplicates (what a crash replays) are counted in the log's
// SQL-CRASH-TABLE lines.

var conveyorBin = struct {
	once sync.Once
	path string
	err  error
}{}

// proc is a conveyor process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	logs *bytes.Buffer
	mu   *sync.Mutex
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// startConveyor runs `conveyor run path`, built once per test binary; its
// log is shown when the test fails.
func startConveyor(t *testing.T, name, path string) *proc {
	t.Helper()
	conveyorBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "conveyor-bin-")
		if err != nil {
			conveyorBin.err = err
			return
		}
		conveyorBin.path = filepath.Join(dir, "conveyor")
		if out, err := exec.Command("go", "build", "-o", conveyorBin.path, "../../cmd/conveyor").CombinedOutput(); err != nil {
			conveyorBin.err = fmt.Errorf("go build ./cmd/conveyor: %v\n%s", err, out)
		}
	})
	if conveyorBin.err != nil {
		t.Fatal(conveyorBin.err)
	}
	p := &proc{cmd: exec.Command(conveyorBin.path, "run", "--log-level", "info", path), done: make(chan struct{}), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd.Stderr = lockedWriter{p.mu, p.logs}
	p.cmd.Stdout = lockedWriter{p.mu, p.logs}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			p.mu.Lock()
			lines := strings.Split(strings.TrimSpace(p.logs.String()), "\n")
			p.mu.Unlock()
			t.Logf("last lines of %s:\n%s", name, strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and fails the test unless the process exits 0 within
// a minute.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("conveyor exited with %v after SIGTERM, want 0", p.err)
		}
	case <-time.After(time.Minute):
		t.Errorf("conveyor still running a minute after SIGTERM")
	}
}

// waitFor polls cond every 20 ms until it holds, failing the test after
// timeout or when p exits.
func waitFor(t *testing.T, p *proc, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p.exited() {
			t.Fatalf("conveyor exited (%v) while waiting for %s", p.err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipeline.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func endSum(t *testing.T, env kafkatest.Env, topic string) int64 {
	var n int64
	for _, end := range env.EndOffsets(t, topic) {
		n += end
	}
	return n
}

const kills = 3

// Outbox → Kafka, kill -9 of the pipeline mid-stream three times: every
// row reaches Kafka.
func TestIntegrationSQLOutboxKill9(t *testing.T) {
	db, dsn := postgres(t)
	env := kafkatest.Start(t)
	topic, out, group := sqlName("outbox_kill"), kafkatest.Name("from-outbox"), "crash"
	env.CreateTopic(t, out, 1)
	initOutbox(t, db, topic)
	const n = 8000
	insertOutbox(t, db, topic, 0, n, 50)
	path := writeFile(t, outboxPipeline(dsn, topic, group, env, out, 0))
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)) //nolint:gosec
	for i := 0; i < kills; i++ {
		before := endSum(t, env, out)
		p := startConveyor(t, fmt.Sprintf("run-%d", i+1), path)
		waitFor(t, p, time.Minute, "progress into Kafka", func() bool { return endSum(t, env, out) > before })
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		p.kill()
		t.Logf("kill %d: %d messages in Kafka, stored offset %d", i+1, endSum(t, env, out), ackedOffset(t, db, topic, group))
	}
	var last int64
	if err := db.QueryRow(`SELECT max("offset") FROM "watermill_` + topic + `"`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	p := startConveyor(t, "final", path)
	waitFor(t, p, 2*time.Minute, "stored offset of the last row", func() bool { return ackedOffset(t, db, topic, group) == last })
	p.stop(t)
	var values [][]byte
	for _, m := range env.ReadAll(t, out) {
		values = append(values, m.Value)
	}
	// A crash replays at most the rows of the query in progress: their
	// offsets are stored together when all of them are acked (batch_size,
	// 100 by default).
	report(t, "sql.outbox → kafka, kill -9 of the pipeline", kills, ids(t, values), n, kills*100)
}

// Kafka → sql.write, kill -9 of the pipeline mid-stream three times: every
// record is a row.
func TestIntegrationSQLWriteKill9(t *testing.T) {
	db, dsn := postgres(t)
	env := kafkatest.Start(t)
	in, group, topic := kafkatest.Name("to-postgres"), kafkatest.Name("g"), sqlName("rows_kill")
	env.CreateTopic(t, in, 3)
	const n = 60000
	msgs := make([]kafkatest.Msg, n)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Partition: int32(i % 3), Value: []byte(fmt.Sprintf(`{"id":%d,"pad":"%040d"}`, i, i))}
	}
	env.Produce(t, in, msgs)
	path := writeFile(t, writePipeline(dsn, topic, env, in, group,
		"max_messages = 0\nbatch_size = 500\nsession_timeout_ms = 6000\ngroup_instance_id = \"sql-crash\""))
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2)) //nolint:gosec
	for i := 0; i < kills; i++ {
		before := countRows(t, db, topic)
		p := startConveyor(t, fmt.Sprintf("run-%d", i+1), path)
		waitFor(t, p, time.Minute, "new rows", func() bool { return countRows(t, db, topic) > before })
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		p.kill()
		t.Logf("kill %d: %d rows, committed %v", i+1, countRows(t, db, topic), env.Committed(t, group, in))
	}
	ends := env.EndOffsets(t, in)
	p := startConveyor(t, "final", path)
	waitFor(t, p, 2*time.Minute, "commit of the whole input", func() bool {
		c := env.Committed(t, group, in)
		for part, end := range ends {
			if c[part] != end {
				return false
			}
		}
		return true
	})
	p.stop(t)
	// A crash replays at most window (4) batches of 500 per partition.
	report(t, "kafka → sql.write, kill -9 of the pipeline", kills, ids(t, tableValues(t, db, topic)), n, kills*3*4*500)
}
