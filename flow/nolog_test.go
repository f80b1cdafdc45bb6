package flow_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestRunWithoutLoggerLogsNothing: flow.Run without WithLogger writes
// nothing to stdout or stderr (the README says so), even where a run with
// a logger warns (a filter whose column no record has) and the Kafka
// client and the router have things to say. The same pipeline run with a
// logger does log, so the silence is the option's doing.
func TestRunWithoutLoggerLogsNothing(t *testing.T) {
	env := kafkatest.Start(t)
	in, out := kafkatest.Name("nolog-in"), kafkatest.Name("nolog-out")
	env.CreateTopic(t, in, 2)
	env.CreateTopic(t, out, 1)
	var msgs []kafkatest.Msg
	for i := range 40 {
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	env.Produce(t, in, msgs)
	dir := t.TempDir()
	path := writePipeline(t, dir, fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[2]q
until = "end"

[[stages]]
id = "filter"
function = "filter.apply"
inputs = ["consume"]
[stages.config]
column = "no_such_column"
operator = ">="
value = 1

[[stages]]
id = "produce"
function = "kafka"
inputs = ["filter"]
[stages.config]
brokers = %[1]q
topic = %[3]q
`, env.BrokerList(), in, out))

	runChild := func(nolog bool) string {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CONVEYOR_CHILD_PIPELINE="+path, "CONVEYOR_CHILD_QUIET=1")
		if nolog {
			cmd.Env = append(cmd.Env, "CONVEYOR_CHILD_NOLOG=1")
		}
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child (nolog %v): %v\n%s", nolog, err, b)
		}
		return string(b)
	}
	if got := runChild(true); got != "" {
		t.Errorf("flow.Run without a logger wrote:\n%s", got)
	}
	// The group committed everything: the run did run.
	if c := env.Committed(t, in, in); c[0]+c[1] != 40 {
		t.Errorf("committed %v, want 40 records over 2 partitions", c)
	}
	// Two more records, read with a logger: it logs.
	env.Produce(t, in, msgs[:2])
	if got := runChild(false); got == "" {
		t.Error("the same pipeline with a logger logged nothing either: the test shows nothing")
	}
}
