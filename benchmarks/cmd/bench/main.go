// Command bench runs Conveyor's throughput, latency and memory benchmarks
// against a Kafka broker and reports them next to hand-written sarama
// baselines. See benchmarks/README.md.
//
// Every scenario runs in its own child process (this binary, re-executed),
// so that its CPU time and peak RSS are its own. Input topics and files are
// prepared before a scenario is timed; a Kafka scenario is timed from the
// child's start until its output topic holds every expected record and its
// consumer group's committed offsets reach the input's end offsets, as seen
// by the parent polling the broker.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
)

type options struct {
	brokers      string
	embedded     bool
	records      int64
	partitions   int
	only         string
	out          string
	results      string
	noAppend     bool
	repeat       int
	pmRecords    int64
	memRecords   int64
	memRate      int
	latRate      int
	latWarmup    time.Duration
	latDuration  time.Duration
	latGenLinger time.Duration
	latProbe     bool
	cpuProfile   bool
	sourceOpts   string
	sinkOpts     string
	readOpts     string
	keepTopics   bool
	label        string
	registry     string
	maxLoad      float64
	loadWait     time.Duration

	kstreamsDir   string
	java          string
	javaOpts      string
	ksThreads     int
	ksCommit      time.Duration
	windowRecords int64
	windowGrace   time.Duration

	windowByCountry bool
	ksWindowGrace   time.Duration
}

// defaultScenarios run without --only; the Kafka Streams ones need Java and
// a Maven build, etlavro a schema registry, and etleos and latencyeos
// (exactly-once) take their own minutes: those are asked for by name.
var defaultScenarios = []string{"baseline", "franz", "etl", "etlexpr", "etldrop", "permessage", "producer", "producerfile", "file2kafka", "kafka2file", "latency", "memory"}

var allScenarios = append(slices.Clone(defaultScenarios), "etlavro", "etleos", "latencyeos", "kstreams", "kstreamseos", "kswindow", "kswindoweos", "window", "windoweos")

func main() {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	var o options
	flag.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "Kafka brokers (default: the broker of scripts/kafka.sh up)")
	flag.BoolVar(&o.embedded, "embedded", false, "use an in-process Kafka-protocol broker (franz-go kfake) instead of --brokers")
	flag.Int64Var(&o.records, "records", 1_000_000, "records for the etl, baseline, file2kafka, producer, producerfile and kafka2file scenarios")
	flag.IntVar(&o.partitions, "partitions", 6, "partitions of every topic")
	flag.StringVar(&o.only, "only", strings.Join(defaultScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ",")+" (file2kafka brings producer and producerfile; the Kafka Streams ones, kstreams*, kswindow*, and window* only when named)")
	flag.StringVar(&o.out, "out", "benchmarks/out", "directory for logs, profiles, data files and the JSON results")
	flag.StringVar(&o.results, "results", "benchmarks/RESULTS.md", "file to append the report to")
	flag.BoolVar(&o.noAppend, "no-append", false, "do not append the report to --results")
	flag.IntVar(&o.repeat, "repeat", 1, "run baseline/franz/etl and producer/producerfile/file2kafka this many times, alternating; ratios use the medians")
	flag.Int64Var(&o.pmRecords, "permessage-records", 100_000, "records for the per-message scenario (about 100x slower than etl)")
	flag.Int64Var(&o.memRecords, "memory-records", 5_000_000, "records for the memory scenario")
	flag.IntVar(&o.memRate, "memory-sink-rate", 50_000, "output records/s the memory scenario's slowed sink lets through (the input moves twice as fast: half is filtered out)")
	flag.IntVar(&o.latRate, "latency-rate", 10_000, "input records/s of the latency scenario")
	flag.DurationVar(&o.latWarmup, "latency-warmup", 5*time.Second, "latency scenario: load before measuring")
	flag.DurationVar(&o.latDuration, "latency-duration", 20*time.Second, "latency scenario: measured load")
	flag.DurationVar(&o.latGenLinger, "latency-gen-linger", time.Millisecond, "latency scenario: linger of the load generator's producer (part of the measured latency)")
	flag.BoolVar(&o.latProbe, "latency-probe", false, "latency scenario: also consume the output and the input while the load runs (latency seen by a consumer; the generator+broker share); loads the broker")
	flag.BoolVar(&o.cpuProfile, "cpuprofile", false, "CPU-profile run 1 of baseline, etl, permessage, producer and file2kafka into <out>/NAME.cpu.pprof, with pprof -top summaries beside (adds a little overhead)")
	flag.StringVar(&o.sourceOpts, "source-opts", "", "extra kafka source keys for the Conveyor scenarios, TOML, ';'-separated (e.g. 'batch_linger_ms = 1')")
	flag.StringVar(&o.sinkOpts, "sink-opts", "", "extra kafka sink keys for the Conveyor scenarios, TOML, ';'-separated (e.g. 'linger_ms = 1')")
	flag.StringVar(&o.readOpts, "read-opts", "", "extra json.read keys for file2kafka, TOML, ';'-separated (e.g. 'batch_size = 5000')")
	flag.BoolVar(&o.keepTopics, "keep-topics", false, "do not delete the benchmark topics at the end")
	flag.StringVar(&o.label, "label", "", "free text recorded with the run")
	flag.StringVar(&o.registry, "schema-registry", "http://127.0.0.1:8081/apis/ccompat/v7", "Confluent-compatible schema registry for etlavro (default: scripts/apicurio.sh up's)")
	flag.Float64Var(&o.maxLoad, "max-load", 1.5, "before each scenario, wait until the 1-minute load average is below this (0: do not wait)")
	flag.DurationVar(&o.loadWait, "max-load-wait", 3*time.Minute, "longest wait for --max-load; the scenario then runs anyway and the table shows the load")
	flag.StringVar(&o.kstreamsDir, "kstreams-dir", "benchmarks/kstreams", "the Kafka Streams programs' Maven project (built with mvn -q package)")
	flag.StringVar(&o.java, "java", "java", "the java command of the Kafka Streams scenarios")
	flag.StringVar(&o.javaOpts, "java-opts", "", "JVM options of the Kafka Streams scenarios, space-separated (e.g. '-Xmx1g')")
	flag.IntVar(&o.ksThreads, "kstreams-threads", 0, "num.stream.threads of the Kafka Streams scenarios (0: the JVM's available processors)")
	flag.DurationVar(&o.ksCommit, "kstreams-commit", 100*time.Millisecond, "commit.interval.ms of the Kafka Streams scenarios (exactly_once_v2's default; at_least_once's is 30s)")
	flag.Int64Var(&o.windowRecords, "window-records", 2_000_000, "timed records of the windowed scenarios (window, windoweos, kswindow, kswindoweos)")
	flag.DurationVar(&o.windowGrace, "window-grace", 10*time.Second, "grace of the windowed scenarios' one-minute windows")
	flag.BoolVar(&o.windowByCountry, "window-by-country", false, "key and partition the windowed input by country, so that neither program repartitions (default: keyed by event_id, record i in partition i mod partitions)")
	flag.DurationVar(&o.ksWindowGrace, "kstreams-window-grace", 0, "grace of Kafka Streams' windows when it must differ from --window-grace (0: the same)")
	flag.Parse()

	selected := map[string]bool{}
	for _, s := range strings.Split(o.only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			fmt.Fprintf(os.Stderr, "unknown scenario %q (known: %s)\n", s, strings.Join(allScenarios, ","))
			os.Exit(2)
		}
		selected[s] = true
	}
	if selected["file2kafka"] && !(selected["producer"] && selected["producerfile"]) {
		// Example 2's ratio needs its baseline, and its reference goes beside it.
		selected["producer"], selected["producerfile"] = true, true
		fmt.Fprintln(os.Stderr, "file2kafka also runs producer (its goal's baseline) and producerfile (its reference)")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	h := &harness{opt: o, selected: selected, runID: time.Now().Format("0102-150405")}
	if o.embedded {
		b, err := devkafka.Start(devkafka.Options{NoAutoCreate: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer b.Close()
		h.brokers = []string{b.Addr}
	} else {
		h.brokers = strings.Split(o.brokers, ",")
		h.brokerPID = brokerPID()
	}
	admin, err := kit.NewAdmin(h.brokers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot reach Kafka at %v: %v\n(start one with scripts/kafka.sh up, or pass --embedded)\n", h.brokers, err)
		os.Exit(1)
	}
	h.admin = admin
	defer admin.Close()
	started := time.Now()
	h.run()
	h.cleanup()
	rep := h.report(time.Since(started))
	fmt.Print(rep)
	if !o.noAppend {
		if err := appendFile(o.results, rep); err != nil {
			fmt.Fprintln(os.Stderr, err)
		} else {
			fmt.Fprintf(os.Stderr, "appended to %s\n", o.results)
		}
	}
	if h.failed() {
		os.Exit(1)
	}
}

func appendFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\n" + text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// brokerPID finds the pid of the broker that scripts/kafka.sh started, to
// report the broker's CPU time per scenario.
func brokerPID() int {
	b, err := os.ReadFile(".cache/kafka/run/node1.pid")
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(strings.TrimSpace(string(b)), &pid)
	if procCPU(pid) == 0 {
		return 0
	}
	return pid
}
