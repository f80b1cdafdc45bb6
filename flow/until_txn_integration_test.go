package flow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// waitRun waits for a run of startRun, failing the test on its error.
func waitRun(t *testing.T, done <-chan result) flow.Summary {
	t.Helper()
	r := <-done
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	t.Logf("summary: %s", r.sum)
	return r.sum
}

// countOutput counts the output records whose value contains mark.
func countOutput(t *testing.T, env kafkatest.Env, topic, mark string) (all, marked int) {
	for _, m := range env.ReadAll(t, topic) {
		all++
		if strings.Contains(string(m.Value), mark) {
			marked++
		}
	}
	return all, marked
}

// A partition whose last offsets are a transaction (committed or aborted)
// and its marker is read up to its end offset and no further, under either
// isolation level, while a slow producer goes on writing after the run
// started: what it writes lies past the end and is not read. The decision
// comes from what the log holds between the last record read and the end
// (only a marker, or an aborted transaction and its marker), not from a
// pause in deliveries.
func TestIntegrationUntilEndTransactionLastWithSlowProducer(t *testing.T) {
	for _, tc := range []struct {
		name, iso string
		commit    bool
		want      int64
	}{
		{"committed/read_uncommitted", "read_uncommitted", true, 5},
		{"committed/read_committed", "read_committed", true, 5},
		{"aborted/read_uncommitted", "read_uncommitted", false, 5}, // the aborted records are delivered
		{"aborted/read_committed", "read_committed", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := kafkatest.Start(t)
			in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
			env.CreateTopic(t, in, 1)
			env.CreateTopic(t, out, 1)
			env.TransactionLast(t, in, `{"amount":150,"n":"plain"}`, `{"amount":200,"n":"txn"}`, tc.commit)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := startRun(t, ctx, etl(env, in, out, group, untilEnd+"\nisolation_level = \""+tc.iso+"\""))
			env.WaitGroupStable(t, group)
			time.Sleep(300 * time.Millisecond) // the claim has its end offset
			stop := env.Trickle(t, in, `{"amount":300,"n":"late"}`, 50*time.Millisecond)
			sum := waitRun(t, run)
			wrote := stop()
			if sum.In != tc.want {
				t.Errorf("summary %s; want in=%d (the slow producer wrote %d records after the start)", sum, tc.want, wrote)
			}
			if all, late := countOutput(t, env, out, `"late"`); all != int(tc.want) || late != 0 {
				t.Errorf("output: %d records, %d of them written after the run started; want %d and 0", all, late, tc.want)
			}
		})
	}
}

// A transaction open when the run starts lies below the end offset (the
// high watermark): the run waits for it to end, however slowly its producer
// goes on, and reads its records below the end if it commits; read
// uncommitted, they are read at once. It does not stop at the last stable
// offset before them.
func TestIntegrationUntilEndWaitsForOpenTransaction(t *testing.T) {
	for _, tc := range []struct {
		name, iso string
		commit    bool
		want      int64
	}{
		{"committed/read_committed", "read_committed", true, 3},
		{"aborted/read_committed", "read_committed", false, 0},
		{"committed/read_uncommitted", "read_uncommitted", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := kafkatest.Start(t)
			in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
			env.CreateTopic(t, in, 1)
			env.CreateTopic(t, out, 1)
			x := env.Txn(t, in)
			x.Send(`{"amount":200,"n":"txn"}`, `{"amount":200,"n":"txn"}`, `{"amount":200,"n":"txn"}`)
			env.WaitEnd(t, in, 3)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			run := startRun(t, ctx, etl(env, in, out, group, untilEnd+"\nisolation_level = \""+tc.iso+"\""))
			env.WaitGroupStable(t, group)
			for range 3 { // the producer goes on slowly, past the end
				time.Sleep(500 * time.Millisecond)
				x.Send(`{"amount":300,"n":"late"}`)
			}
			if tc.commit {
				x.Commit()
			} else {
				x.Abort()
			}
			sum := waitRun(t, run)
			if sum.In != tc.want {
				t.Errorf("summary %s; want in=%d", sum, tc.want)
			}
			if all, late := countOutput(t, env, out, `"late"`); all != int(tc.want) || late != 0 {
				t.Errorf("output: %d records, %d of them written after the run started; want %d and 0", all, late, tc.want)
			}
		})
	}
}
