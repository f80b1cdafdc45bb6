package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// consume --until-end stops at a partition whose last offset is a
// transaction's marker (committed or aborted), with and without a group,
// although no record it is handed has the offset before the end; a slow
// producer writing meanwhile is not printed. And it waits for a
// transaction open when it starts (read uncommitted, it prints its records
// below the end at once).
func TestConsumeUntilEndAfterTransaction(t *testing.T) {
	env := kafkatest.Start(t)
	for _, tc := range []struct {
		name   string
		commit bool
		group  bool
	}{
		{"committed", true, false},
		{"aborted", false, false},
		{"committed/group", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkatest.Name("txn")
			env.CreateTopic(t, topic, 1)
			env.TransactionLast(t, topic, `{"n":"plain"}`, `{"n":"txn"}`, tc.commit)
			go func() { // a slow producer, once consume has its end offsets
				time.Sleep(300 * time.Millisecond)
				env.Trickle(t, topic, `{"n":"late"}`, 50*time.Millisecond)
			}()
			args := []string{"consume", "--brokers", env.BrokerList(), "--from-beginning", "--until-end", topic}
			if tc.group {
				args = append(args, "--group", kafkatest.Name("g"))
			}
			code, stdout, stderr := cliWithin(t, 20*time.Second, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := consumedLines(t, stdout)
			for i, c := range lines {
				if want := map[bool]string{true: `{"n":"plain"}`, false: `{"n":"txn"}`}[i < 2]; string(c.Value) != want {
					t.Errorf("record %d: %s, want %s", i, c.Value, want)
				}
			}
			if len(lines) != 5 {
				t.Errorf("%d records printed, want the 5 before the marker: %s", len(lines), stdout)
			}
		})
	}
}

// consume --until-end waits for a transaction open when it starts and prints
// its records below the end (read uncommitted, at once), then stops,
// although the producer goes on writing in the transaction.
func TestConsumeUntilEndOpenTransaction(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("txn")
	env.CreateTopic(t, topic, 1)
	x := env.Txn(t, topic)
	x.Send(`{"n":"txn"}`, `{"n":"txn"}`)
	env.WaitEnd(t, topic, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			time.Sleep(300 * time.Millisecond)
			x.Send(`{"n":"late"}`)
		}
		x.Commit()
	}()
	code, stdout, stderr := cliWithin(t, 20*time.Second, "consume", "--brokers", env.BrokerList(), "--from-beginning", "--until-end", topic)
	<-done
	if code != 0 || strings.Count(stdout, `"txn"`) != 2 || strings.Contains(stdout, "late") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the 2 records below the end", code, stdout, stderr)
	}
}

// commitAt commits offset for group on partition 0 of topic.
func commitAt(t *testing.T, env kafkatest.Env, group, topic string, offset int64) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.AlterConsumerGroupOffsets(group, map[string]map[int32]sarama.OffsetAndMetadata{topic: {0: {Offset: offset}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range resp.Errors {
		for p, kerr := range parts {
			if kerr != sarama.ErrNoError {
				t.Fatalf("commit partition %d: %v", p, kerr)
			}
		}
	}
}

// conveyor lag counts no lag for a group that read up to a transaction's
// marker (it commits the offset after its last record, before the marker),
// nor, read_committed, for an aborted transaction left after its commit; read
// uncommitted, the aborted records are lag.
func TestLagAfterTransaction(t *testing.T) {
	env := kafkatest.Start(t)
	for _, tc := range []struct {
		name      string
		commit    bool
		committed int64
		iso       string
		lag       int64
	}{
		{"committed, read to the marker", true, 5, "read_uncommitted", 0},
		{"committed, read to the marker, read_committed", true, 5, "read_committed", 0},
		{"committed, behind", true, 3, "read_uncommitted", 3},
		{"aborted, read_committed", false, 2, "read_committed", 0},
		{"aborted, read_uncommitted", false, 2, "read_uncommitted", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, group := kafkatest.Name("txn"), kafkatest.Name("g")
			env.CreateTopic(t, topic, 1)
			env.TransactionLast(t, topic, `{"n":"plain"}`, `{"n":"txn"}`, tc.commit)
			commitAt(t, env, group, topic, tc.committed)
			path := filepath.Join(t.TempDir(), "lag.toml")
			text := fmt.Sprintf("[[stages]]\nid = \"in\"\nfunction = \"kafka\"\n[stages.config]\nbrokers = %q\ntopic = %q\ngroup_id = %q\nisolation_level = %q\n\n[[stages]]\nid = \"out\"\nfunction = \"stdout.write\"\ninputs = [\"in\"]\n",
				env.BrokerList(), topic, group, tc.iso)
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := cli(t, "lag", "--format", "json", path)
			var got struct {
				Stages []lagReport `json:"stages"`
			}
			if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil || len(got.Stages) != 1 || len(got.Stages[0].Partitions) != 1 {
				t.Fatalf("exit %d: %s %s", code, stdout, stderr)
			}
			if p := got.Stages[0].Partitions[0]; p.Lag != tc.lag || p.End != 6 {
				t.Errorf("lag %d, end %d; want lag %d, end 6 (%s)", p.Lag, p.End, tc.lag, stdout)
			}
		})
	}
}
