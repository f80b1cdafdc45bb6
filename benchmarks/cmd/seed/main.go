// Command seed creates a topic and writes the benchmark's generated
// records to it, as the bench harness seeds its input topics: for timing a
// `conveyor run` of one's own against a known input, e.g. a bounded
// Example 3 under hyperfine (see benchmarks/README.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated brokers")
	partitions := flag.Int("partitions", 6, "partitions of each topic created")
	records := flag.Int64("records", 300_000, "records written to -topic")
	topic := flag.String("topic", "", "topic to create and fill (required)")
	empty := flag.String("empty", "", "comma-separated topics to create empty (outputs)")
	flag.Parse()
	if *topic == "" {
		fmt.Fprintln(os.Stderr, "seed: -topic is required")
		os.Exit(2)
	}
	bs := strings.Split(*brokers, ",")
	admin, err := kit.NewAdmin(bs)
	if err != nil {
		fail(err)
	}
	defer admin.Close()
	for _, t := range append([]string{*topic}, strings.FieldsFunc(*empty, func(r rune) bool { return r == ',' })...) {
		if err := admin.CreateTopic(t, int32(*partitions), nil); err != nil {
			fail(err)
		}
	}
	n, err := kit.Seed(bs, *topic, int32(*partitions), *records)
	if err != nil {
		fail(err)
	}
	fmt.Printf("seeded %s: %d records, %d value bytes\n", *topic, *records, n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "seed:", err)
	os.Exit(1)
}
