package flow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
)

// keptRegistry keeps the run's collectors registered after the run
// unregisters them, so the test can read them once it has ended.
type keptRegistry struct{ *prometheus.Registry }

func (keptRegistry) Unregister(prometheus.Collector) bool { return true }

// Under exactly-once the open transaction bounds what is not committed, not
// the source's window: a transaction fills to transaction_records even when
// that is many windows of batches. The window held a durable batch's place
// until the transaction committed, so a transaction could never hold more
// than window × batch_size records a partition: here 10, against 1,000
// asked, and every transaction stayed open for its whole transaction_ms.
func TestExactlyOnceTransactionOutgrowsTheWindow(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(t, in, 1)
	env.CreateTopic(t, out, 1)
	msgs, _ := events(3000)
	env.Produce(t, in, spread(msgs, 1))
	text := eosETL(env, in, out, group, "i1", "until = \"end\"\nwindow = 1\nbatch_size = 10")
	text = strings.Replace(text, "guarantee = \"exactly-once\"\n", "guarantee = \"exactly-once\"\ntransaction_records = 1000\ntransaction_ms = 60000\n", 1)
	p, err := config.Parse("eos.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// transaction_ms is 60 s: a transaction that cannot reach 1,000
	// records outlives the run's deadline
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	reg := keptRegistry{prometheus.NewRegistry()}
	if _, err := flow.Execute(ctx, p, flow.WithMetrics(reg)); err != nil {
		t.Fatalf("run: %v (a transaction held no more than the window, and waited for transaction_ms)", err)
	}
	committed, records := txnCounts(t, reg)
	t.Logf("%v transactions committed, %v records read", committed, records)
	if committed == 0 || committed > 4 || records != 3000 {
		t.Errorf("%v transactions committed for %v records read: want 1 to 4 of about 1,000 records (transaction_records), for all 3,000", committed, records)
	}
	eosReport(t, env, "transactions of many windows (exactly-once, window = 1)", 0, in, out)
}

// txnCounts reads the transactions committed and the records read in them
// from the run's metrics.
func txnCounts(t *testing.T, reg prometheus.Gatherer) (committed, records float64) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case telemetry.Transactions:
				for _, l := range m.GetLabel() {
					if l.GetName() == "result" && l.GetValue() == "committed" {
						committed += m.GetCounter().GetValue()
					}
				}
			case telemetry.TransactionRecords:
				records += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return committed, records
}
