package cli

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// TestSeedSpecInputs: what `conveyor dev-kafka` seeds is in both of the
// spec's input topics, n events each, spread over the partitions, and it
// says so.
func TestSeedSpecInputs(t *testing.T) {
	b, err := devkafka.Start(devkafka.Options{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	brokers := []string{b.Addr}
	var out bytes.Buffer
	if err := seed(brokers, specInputs, 250, &out); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"events", "raw-events"} {
		msgs, err := kafkautil.ReadAll(brokers, topic)
		if err != nil {
			t.Fatal(err)
		}
		parts := map[int32]int{}
		amounts := 0
		for _, m := range msgs {
			parts[m.Partition]++
			if bytes.Contains(m.Value, []byte(`"amount":`)) {
				amounts++
			}
		}
		if len(msgs) != 250 || len(parts) != 3 || amounts != 245 {
			t.Errorf("%s holds %d records over partitions %v, %d with an amount; want 250 over 3, 245 (one in fifty is plain text)", topic, len(msgs), parts, amounts)
		}
		line := fmt.Sprintf("seeded %s with 250 sample events (per partition: map[0:%d 1:%d 2:%d])\n", topic, parts[0], parts[1], parts[2])
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}

// TestDemoPrintsTheREADMEsSummary: `conveyor demo` ends its run with the
// summary line the README quotes (the same sample events, so the same
// counts), but for the time it took.
func TestDemoPrintsTheREADMEsSummary(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	quoted := regexp.MustCompile("`(conveyor: kafka-etl: records in=[^`]+)`").FindSubmatch(readme)
	if quoted == nil {
		t.Fatal("README quotes no summary line of kafka-etl (`conveyor: kafka-etl: records in=…`)")
	}
	code, stdout, stderr := cli(t, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d, stderr:\n%s", code, stderr)
	}
	line := regexp.MustCompile(`(?m)^conveyor: kafka-etl: .*$`).FindString(stdout)
	timing := regexp.MustCompile(`elapsed=[0-9.]+(µs|ms|s) throughput=\d+`)
	if got, want := timing.ReplaceAllString(line, "elapsed=… throughput=…"), timing.ReplaceAllString(string(quoted[1]), "elapsed=… throughput=…"); got != want {
		t.Errorf("demo prints\n  %s\nthe README quotes\n  %s\nstdout:\n%s", got, want, stdout)
	}
}
