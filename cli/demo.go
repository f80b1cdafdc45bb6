package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/examples"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// cmdDemo starts an in-process broker, seeds raw-events, runs the spec's
// Example 3 unchanged but for the broker address, and shows what came out
// and what was committed.
func (a *app) cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("demo", "[flags]",
		"start an in-process broker, seed raw-events, run the spec's Example 3 on it and show what came out and what was committed")
	n := fs.Int("records", 1000, "events to seed (Example 3 reads max_messages = 1000 by default)")
	level := fs.String("log-level", "warn", "log level of the pipeline run")
	if exit, ok := fs.parse(args, stdout, stderr); !ok {
		return exit
	}
	if fs.NArg() != 0 {
		return fs.badArgs(stderr, "takes no arguments")
	}
	b, err := devkafka.Start(devkafka.Options{Topics: map[string]int32{"raw-events": 3, "processed-events": 3}})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer b.Close()
	brokers := []string{b.Addr}
	fmt.Fprintf(stdout, "in-process Kafka-protocol broker on %s (for trying things out; see README for real Kafka)\n", b.Addr)
	if err := seed(brokers, []string{"raw-events"}, *n, stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout)

	src, _ := examples.FS.ReadFile("kafka-etl-example.toml")
	text := strings.ReplaceAll(string(src), "localhost:9092", b.Addr)
	p, err := config.Parse("examples/kafka-etl-example.toml", []byte(text))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "running examples/kafka-etl-example.toml: raw-events -> filter amount >= 100 -> processed-events keyed by user_id")
	log, _ := newLogger(*level, "console", stderr, isTerminal(stderr))
	ctx, stop := signal.NotifyContext(a.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := flow.Execute(ctx, p, flow.WithLogger(log), flow.WithRegistry(a.reg))
	fmt.Fprintf(stdout, "%s\n\n", summaryLine(p.Pipeline.Name, sum))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return report(brokers, stdout, stderr)
}

func report(brokers []string, stdout, stderr io.Writer) int {
	out, err := kafkautil.ReadAll(brokers, "processed-events")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	perPart := map[int32]int{}
	for _, m := range out {
		perPart[m.Partition]++
	}
	fmt.Fprintf(stdout, "processed-events holds %d records (per partition: %v); the first three:\n", len(out), perPart)
	for i := 0; i < len(out) && i < 3; i++ {
		fmt.Fprintf(stdout, "  p%d@%d key=%s %s\n", out[i].Partition, out[i].Offset, out[i].Key, out[i].Value)
	}
	committed, err := kafkautil.Committed(brokers, "etl-processor", "raw-events")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ends, _ := kafkautil.EndOffsets(brokers, "raw-events")
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, int(p))
	}
	sort.Ints(parts)
	fmt.Fprintln(stdout, "\ncommitted offsets of group etl-processor on raw-events:")
	for _, p := range parts {
		fmt.Fprintf(stdout, "  partition %d: committed %d of end offset %d\n", p, committed[int32(p)], ends[int32(p)])
	}
	return 0
}

// specInputs are the topics the spec's examples read: Example 1 reads
// events, Example 3 raw-events.
var specInputs = []string{"events", "raw-events"}

// specOutputs are the topics the spec's examples write (Example 2
// output-events, Example 3 processed-events), created empty: a kafka sink
// does not create its topic unless create_topic = true.
func specOutputs(partitions int) map[string]int32 {
	return map[string]int32{"output-events": int32(partitions), "processed-events": int32(partitions)}
}

// seed writes n sample events to each topic and says how they spread over
// its partitions.
func seed(brokers, topics []string, n int, w io.Writer) error {
	for _, topic := range topics {
		if err := kafkautil.Produce(brokers, topic, sampleEvents(n)); err != nil {
			return fmt.Errorf("seed %s: %w", topic, err)
		}
		ends, err := kafkautil.EndOffsets(brokers, topic)
		if err != nil {
			return fmt.Errorf("seed %s: %w", topic, err)
		}
		fmt.Fprintf(w, "seeded %s with %d sample events (per partition: %v)\n", topic, n, ends)
	}
	return nil
}

// sampleEvents makes events like the spec's, keyed "user-N", spread by key,
// with one in fifty not JSON at all (it is wrapped, and filtered out).
func sampleEvents(n int) []kafkautil.Msg {
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // sample data
	kinds := []string{"login", "purchase", "view", "logout", "refund"}
	out := make([]kafkautil.Msg, n)
	for i := range out {
		user := 1 + r.IntN(50)
		v := fmt.Sprintf(`{"event_id":"evt-%06d","user_id":%d,"event":%q,"amount":%d}`, i, user, kinds[r.IntN(len(kinds))], 1+r.IntN(300))
		if i%50 == 49 {
			v = fmt.Sprintf("plain text event %d", i)
		}
		out[i] = kafkautil.Msg{Partition: -1, Key: []byte(fmt.Sprintf("user-%d", user)), Value: []byte(v)}
	}
	return out
}

func (a *app) cmdDevKafka(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("dev-kafka", "[flags]",
		"run an in-process Kafka-protocol broker on 127.0.0.1 for trying pipelines out, seeding the spec's input topics")
	port := fs.Int("port", 9092, "port on 127.0.0.1")
	parts := fs.Int("partitions", 3, "partitions of topics created on first use")
	n := fs.Int("records", 1000, "sample events seeded into each of events and raw-events (the examples read max_messages = 1000 by default)")
	noSeed := fs.Bool("no-seed", false, "start with no topics instead of seeding the spec's input topics")
	if exit, ok := fs.parse(args, stdout, stderr); !ok {
		return exit
	}
	if fs.NArg() != 0 {
		return fs.badArgs(stderr, "takes no arguments")
	}
	o := devkafka.Options{Port: *port, Partitions: *parts}
	if !*noSeed {
		o.Topics = specOutputs(*parts)
	}
	b, err := devkafka.Start(o)
	if err != nil {
		fmt.Fprintf(stderr, "%v (is something already listening on port %d?)\n", err, *port)
		return 1
	}
	defer b.Close()
	fmt.Fprintf(stdout, "in-process Kafka-protocol broker listening on %s; topics are created on first use with %d partitions (kafka stages do not ask for that: a source never creates its topic, a sink only with create_topic = true).\n", b.Addr, *parts)
	if !*noSeed {
		if err := seed([]string{b.Addr}, specInputs, *n, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	fmt.Fprintln(stdout, "It keeps everything in memory and is for trying things out, not for production. Ctrl-C stops it.")
	ctx, stop := signal.NotifyContext(a.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}
