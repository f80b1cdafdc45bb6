package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/benchmarks/baseline"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/plugin"

	// The built-in functions, which the child's registry clones.
	_ "github.com/conveyor-etl/conveyor/connectors/all"
)

// childEnv names the environment variable that turns the binary into one
// scenario's child process; its value is the JSON of a childSpec.
const childEnv = "CONVEYOR_BENCH_CHILD"

// childSpec is what a child runs.
type childSpec struct {
	Scenario   string           `json:"scenario"`
	Brokers    []string         `json:"brokers"`
	InTopic    string           `json:"in_topic,omitempty"`
	OutTopic   string           `json:"out_topic,omitempty"`
	Group      string           `json:"group,omitempty"`
	Records    int64            `json:"records,omitempty"`  // max_messages of a bounded run; 0 streams
	File       string           `json:"file,omitempty"`     // json.read input or json.write output
	End        map[int32]int64  `json:"end,omitempty"`      // input end offsets (baseline)
	Delivery   string           `json:"delivery,omitempty"` // kafka delivery for both stages
	SinkRate   int              `json:"sink_rate,omitempty"`
	SourceOpts []string         `json:"source_opts,omitempty"`
	SinkOpts   []string         `json:"sink_opts,omitempty"`
	CPUProfile string           `json:"cpu_profile,omitempty"`
	Extra      map[string]int64 `json:"extra,omitempty"`
}

// childEvent is one line a child prints on stdout.
type childEvent struct {
	Event   string `json:"event"` // start | end
	UnixNs  int64  `json:"unix_ns"`
	In      int64  `json:"in,omitempty"`
	Out     int64  `json:"out,omitempty"`
	InBytes int64  `json:"in_bytes,omitempty"`
	// CPU is the process's CPU time (user+system) when the event was
	// emitted, so that the parent can leave out what the child spent
	// preparing before "start".
	CPU int64 `json:"cpu_ns,omitempty"`
	// HWM is the process's peak RSS (VmHWM) in bytes at the end. It is
	// what the table reports: a child's rusage ru_maxrss also counts the
	// parent's RSS at the time of the fork (Linux charges the vfork'd
	// address space it had before exec).
	HWM int64  `json:"hwm,omitempty"`
	Err string `json:"err,omitempty"`
	// Txn sums up an exactly-once run's transactions (see txnNote).
	Txn string `json:"txn,omitempty"`
}

func emit(e childEvent) {
	e.CPU = int64(selfCPU())
	e.UnixNs = time.Now().UnixNano()
	b, _ := json.Marshal(e)
	os.Stdout.Write(append(b, '\n'))
}

// runChild runs the scenario in spec and returns the exit code.
func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "bad child spec:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc.OutputPaths, zc.ErrorOutputPaths = []string{"stderr"}, []string{"stderr"}
	log, _ := zc.Build()

	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	if path := os.Getenv("CONVEYOR_BENCH_BLOCKPROFILE"); path != "" {
		// Where goroutines wait, for finding what bounds a run that is not
		// CPU-bound (not used for the reported numbers).
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("block").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if path := os.Getenv("CONVEYOR_BENCH_TRACE"); path != "" {
		if f, err := os.Create(path); err == nil {
			trace.Start(f)
			defer func() { trace.Stop(); f.Close() }()
		}
	}
	var ev childEvent
	var err error
	switch spec.Scenario {
	case "etl", "etleos", "etlexpr", "etldrop", "etlavro", "permessage", "latency", "latencyeos", "memory":
		err = runPipeline(ctx, log, etlTOML(spec), spec, &ev)
	case "file2kafka":
		err = runPipeline(ctx, log, file2kafkaTOML(spec), spec, &ev)
	case "kafka2file":
		err = runPipeline(ctx, log, kafka2fileTOML(spec), spec, &ev)
	case "window", "windoweos":
		err = runPipeline(ctx, log, windowTOML(spec), spec, &ev)
	case "baseline", "franz":
		run := baseline.RunETL
		if spec.Scenario == "franz" {
			run = baseline.RunETLFranz
		}
		emit(childEvent{Event: "start"})
		var st baseline.ETLStats
		st, err = run(ctx, baseline.ETLConfig{Brokers: spec.Brokers, InputTopic: spec.InTopic, OutputTopic: spec.OutTopic,
			Group: spec.Group, Column: "amount", Min: gen.Threshold, KeyField: "user_id", End: spec.End})
		ev = childEvent{In: st.In, Out: st.Out, InBytes: st.InBytes}
	case "producerfile":
		emit(childEvent{Event: "start"})
		ev.Out, ev.InBytes, err = baseline.ProduceFile(spec.Brokers, spec.OutTopic, "event_id", spec.File)
		ev.In = ev.Out
	case "producer":
		values, bytes, rerr := readValues(spec.File)
		if rerr != nil {
			err = rerr
			break
		}
		emit(childEvent{Event: "start"})
		ev.In, ev.InBytes = int64(len(values)), bytes
		ev.Out, err = baseline.Produce(spec.Brokers, spec.OutTopic, "event_id", values)
	default:
		err = fmt.Errorf("unknown scenario %q", spec.Scenario)
	}
	ev.Event = "end"
	_, ev.HWM = procStatus(os.Getpid())
	if err != nil {
		ev.Err = err.Error()
	}
	emit(ev)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scenario failed:", err)
		return 1
	}
	return 0
}

// runPipeline runs a Conveyor pipeline from TOML text, as `conveyor run`
// would, with the benchmark's slow sink registered besides the built-ins.
func runPipeline(ctx context.Context, log *zap.Logger, text string, spec childSpec, ev *childEvent) error {
	p, err := config.Parse("bench-"+spec.Scenario+".toml", []byte(text))
	if err != nil {
		return fmt.Errorf("%w\n%s", err, text)
	}
	reg := plugin.Default().Clone()
	if err := reg.Register(slowKafkaSpec(spec.SinkRate)); err != nil {
		return err
	}
	defer saramaLog()()
	metrics := keptMetrics{prometheus.NewRegistry()}
	emit(childEvent{Event: "start"})
	sum, err := flow.Execute(ctx, p, flow.WithRegistry(reg), flow.WithLogger(log), flow.WithMetrics(metrics))

	ev.In, ev.Out, ev.InBytes = sum.In, sum.Out, sum.InBytes
	ev.Txn = txnNote(metrics)
	return err
}

func kafkaSource(spec childSpec, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[stages]]\nid = \"consume\"\nfunction = \"kafka\"\ninputs = []\n[stages.config]\n")
	fmt.Fprintf(&b, "brokers = %q\ntopic = %q\ngroup_id = %q\n", strings.Join(spec.Brokers, ","), spec.InTopic, spec.Group)
	// A bounded run stops after exactly the records seeded; no time limit.
	fmt.Fprintf(&b, "max_messages = %d\ntimeout_ms = 0\n", spec.Records)
	if spec.Delivery != "" {
		fmt.Fprintf(&b, "delivery = %q\n", spec.Delivery)
	}
	for _, o := range append(extra, spec.SourceOpts...) {
		b.WriteString(o + "\n")
	}
	return b.String()
}

func kafkaSink(spec childSpec, function, input, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[[stages]]\nid = \"produce\"\nfunction = %q\ninputs = [%q]\n[stages.config]\n", function, input)
	fmt.Fprintf(&b, "brokers = %q\ntopic = %q\nkey_field = %q\n", strings.Join(spec.Brokers, ","), spec.OutTopic, key)
	if spec.Delivery != "" {
		fmt.Fprintf(&b, "delivery = %q\n", spec.Delivery)
	}
	for _, o := range spec.SinkOpts {
		b.WriteString(o + "\n")
	}
	return b.String()
}

const header = "[pipeline]\nname = %q\nversion = \"1.0.0\"\n\n[global]\nplugins = [\"kafka\", \"filter\", \"fields\"]\n\n"

// etlTOML is Example 3 (kafka-etl-example.toml) with the benchmark's
// topics and run bound; the memory scenario writes through slow.kafka;
// etlexpr filters with filter.expr, etldrop adds fields.drop of _kafka_*.
func etlTOML(spec childSpec) string {
	sink := "kafka"
	if spec.Scenario == "memory" {
		sink = "slow.kafka"
	}
	filter := "\n[[stages]]\nid = \"filter\"\nfunction = \"filter.apply\"\ninputs = [\"consume\"]\n[stages.config]\ncolumn = \"amount\"\noperator = \">=\"\nvalue = \"100\"\n\n"
	last := "filter"
	switch spec.Scenario {
	case "etlexpr": // the same filter as an expression
		filter = "\n[[stages]]\nid = \"filter\"\nfunction = \"filter.expr\"\ninputs = [\"consume\"]\n[stages.config]\ncondition = \"amount >= 100\"\n\n"
	case "etldrop": // and the source's _kafka_* fields left out of the output
		filter += "[[stages]]\nid = \"drop\"\nfunction = \"fields.drop\"\ninputs = [\"filter\"]\n[stages.config]\nfields = [\"_kafka_*\"]\n\n"
		last = "drop"
	}
	head, source := fmt.Sprintf(header, "bench-"+spec.Scenario), kafkaSource(spec)
	if transactional(spec.Scenario) {
		head = strings.Replace(head, "version = \"1.0.0\"\n", "version = \"1.0.0\"\nguarantee = \"exactly-once\"\n", 1)
		source = kafkaSource(spec, "group_instance_id = \"bench\"")
	}
	return head + source + filter + kafkaSink(spec, sink, last, "user_id")
}

// file2kafkaTOML is Example 2 (kafka-producer-example.toml).
func file2kafkaTOML(spec childSpec) string {
	return fmt.Sprintf(header, "bench-file2kafka") +
		fmt.Sprintf("[[stages]]\nid = \"load\"\nfunction = \"json.read\"\ninputs = []\n[stages.config]\npath = %q\n%s\n", spec.File, strings.Join(spec.SourceOpts, "\n")) +
		kafkaSink(spec, "kafka", "load", "event_id")
}

// kafka2fileTOML is Example 1 (kafka-consumer-example.toml).
func kafka2fileTOML(spec childSpec) string {
	return fmt.Sprintf(header, "bench-kafka2file") + kafkaSource(spec) +
		fmt.Sprintf("\n[[stages]]\nid = \"save\"\nfunction = \"json.write\"\ninputs = [\"consume\"]\n[stages.config]\npath = %q\n", spec.File)
}

// readValues loads every record of a JSON records file, compacted as
// json.read emits them.
func readValues(path string) ([][]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := jsonio.NewReader(bufio.NewReaderSize(f, 1<<20), jsonio.FormatAuto)
	var out [][]byte
	var bytes int64
	arena := make([]byte, 0, 4<<20)
	for {
		v, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, bytes, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if cap(arena)-len(arena) < len(v) {
			arena = make([]byte, 0, max(4<<20, len(v)))
		}
		s := len(arena)
		arena = append(arena, v...)
		out = append(out, arena[s:len(arena):len(arena)])
		bytes += int64(len(v))
	}
}
