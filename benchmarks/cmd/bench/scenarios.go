package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
)

type harness struct {
	opt       options
	selected  map[string]bool
	runID     string
	brokers   []string
	brokerPID int
	admin     *kit.Admin

	topics  []string
	files   []string
	results []*result

	etlIn      string
	etlInEnd   map[int32]int64
	etlInBytes int64
	avro       avroInput // etlavro's
	dataFile   string

	winIn      string // the windowed scenarios' input (gen.AppendTimed)
	winInEnd   map[int32]int64
	winInBytes int64
}

// result is one scenario run.
type result struct {
	Name      string        `json:"name"`
	Run       int           `json:"run"`
	Records   int64         `json:"records"` // input records
	Out       int64         `json:"out"`     // records in the output
	Expected  int64         `json:"expected"`
	InBytes   int64         `json:"in_bytes"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	CPU       time.Duration `json:"cpu_ns"`
	MaxRSS    int64         `json:"max_rss_bytes"`
	BrokerCPU time.Duration `json:"broker_cpu_ns"`
	Load1     float64       `json:"load1_before"`
	Err       string        `json:"err,omitempty"`
	Notes     []string      `json:"notes,omitempty"`
	Latency   *latencyStats `json:"latency,omitempty"`
	Memory    []memSample   `json:"memory,omitempty"`
}

func (r *result) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (h *harness) name(s string) string { return "bench-" + h.runID + "-" + s }

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (h *harness) failed() bool {
	for _, r := range h.results {
		if r.Err != "" {
			return true
		}
	}
	return false
}

func splitOpts(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ";") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

func (h *harness) conveyorSpec(s childSpec) childSpec {
	s.Brokers = h.brokers
	s.SourceOpts = splitOpts(h.opt.sourceOpts)
	s.SinkOpts = splitOpts(h.opt.sinkOpts)
	return s
}

// run runs the selected scenarios in order.
func (h *harness) run() {
	sel := h.selected
	if sel["baseline"] || sel["franz"] || sel["etl"] || sel["etleos"] || sel["etlexpr"] || sel["etldrop"] || sel["kafka2file"] || sel["kstreams"] || sel["kstreamseos"] {
		if err := h.seedETLInput(); err != nil {
			h.results = append(h.results, &result{Name: "seed", Err: err.Error()})
			return
		}
	}
	if sel["etlavro"] {
		if err := h.seedAvroInput(); err != nil {
			h.results = append(h.results, &result{Name: "seed-avro", Err: err.Error()})
			return
		}
	}
	if sel["producer"] || sel["producerfile"] || sel["file2kafka"] {
		if err := h.writeDataFile(); err != nil {
			h.results = append(h.results, &result{Name: "datafile", Err: err.Error()})
			return
		}
	}
	if sel["kswindow"] || sel["kswindoweos"] || sel["window"] || sel["windoweos"] {
		if err := h.seedWindowInput(); err != nil {
			h.results = append(h.results, &result{Name: "seed", Err: err.Error()})
			return
		}
	}
	for i := 1; i <= h.opt.repeat; i++ {
		if sel["baseline"] {
			h.add(h.etl("baseline", i))
		}
		if sel["franz"] {
			h.add(h.etl("franz", i))
		}
		if sel["etl"] {
			h.add(h.etl("etl", i))
		}
		if sel["etleos"] {
			h.add(h.etl("etleos", i))
		}
		if sel["etlexpr"] {
			h.add(h.etl("etlexpr", i))
		}
		if sel["etldrop"] {
			h.add(h.etl("etldrop", i))
		}
		if sel["kstreams"] {
			h.add(h.etl("kstreams", i))
		}
		if sel["kstreamseos"] {
			h.add(h.etl("kstreamseos", i))
		}
		if sel["etlavro"] {
			h.add(h.etl("etlavro", i))
		}
	}
	for i := 1; i <= h.opt.repeat; i++ {
		if sel["window"] {
			h.add(h.window("window", i))
		}
		if sel["kswindow"] {
			h.add(h.kswindow("kswindow", i))
		}
		if sel["windoweos"] {
			h.add(h.window("windoweos", i))
		}
		if sel["kswindoweos"] {
			h.add(h.kswindow("kswindoweos", i))
		}
	}
	if sel["permessage"] {
		h.add(h.etl("permessage", 1))
	}
	for i := 1; i <= h.opt.repeat; i++ {
		if sel["producer"] {
			h.add(h.file2kafka("producer", i))
		}
		if sel["producerfile"] {
			h.add(h.file2kafka("producerfile", i))
		}
		if sel["file2kafka"] {
			h.add(h.file2kafka("file2kafka", i))
		}
	}
	if sel["kafka2file"] {
		h.add(h.kafka2file())
	}
	if sel["latency"] {
		h.add(h.latency("latency"))
	}
	if sel["latencyeos"] {
		h.add(h.latency("latencyeos"))
	}
	if sel["memory"] {
		h.add(h.memory())
	}
}

func (h *harness) add(r *result) {
	h.results = append(h.results, r)
	b, _ := json.MarshalIndent(r, "", "  ")
	_ = os.WriteFile(filepath.Join(h.opt.out, fmt.Sprintf("%s-%d.json", r.Name, r.Run)), b, 0o644)
	status := "ok"
	if r.Err != "" {
		status = "FAILED: " + r.Err
	}
	h.logf("%-10s run %d: %d records in %.2fs = %.0f records/s, CPU %.2fs, peak RSS %.0f MB, load %.2f: %s %s",
		r.Name, r.Run, r.Records, r.Elapsed.Seconds(), r.rate(), r.CPU.Seconds(), float64(r.MaxRSS)/1e6, r.Load1, status, strings.Join(r.Notes, "; "))
}

func (h *harness) createTopic(name string, configs map[string]string) error {
	h.topics = append(h.topics, name)
	return h.admin.CreateTopic(name, int32(h.opt.partitions), configs)
}

func (h *harness) seed(topic string, n int64) (map[int32]int64, int64, error) {
	if err := h.createTopic(topic, nil); err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	bytes, err := kit.Seed(h.brokers, topic, int32(h.opt.partitions), n)
	if err != nil {
		return nil, 0, err
	}
	end, err := h.admin.EndOffsets(topic)
	if err != nil {
		return nil, 0, err
	}
	if got := kit.Sum(end); got != n {
		return nil, 0, fmt.Errorf("seeded %s: end offsets sum to %d, want %d", topic, got, n)
	}
	h.logf("seeded %s: %d records, %.0f MB in %.1fs", topic, n, float64(bytes)/1e6, time.Since(t0).Seconds())
	return end, bytes, nil
}

func (h *harness) seedETLInput() error {
	h.etlIn = h.name("in")
	var err error
	h.etlInEnd, h.etlInBytes, err = h.seed(h.etlIn, h.opt.records)
	return err
}

// writeDataFile writes Example 2's input: a JSON array of the records, one
// per line.
func (h *harness) writeDataFile() error {
	h.dataFile, _ = filepath.Abs(filepath.Join(h.opt.out, fmt.Sprintf("events-%d.json", h.opt.records)))
	h.files = append(h.files, h.dataFile)
	f, err := os.Create(h.dataFile)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("[\n")
	buf := make([]byte, 0, 256)
	for i := int64(0); i < h.opt.records; i++ {
		buf = gen.Append(buf[:0], i)
		if i+1 < h.opt.records {
			buf = append(buf, ',')
		}
		buf = append(buf, '\n')
		w.Write(buf)
	}
	w.WriteString("]\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// base fills what every result has before its child starts, after waiting
// for the machine to be quiet (--max-load).
func (h *harness) base(name string, run int) (*result, time.Duration) {
	h.waitQuiet()
	r := &result{Name: name, Run: run, Load1: load1()}
	return r, h.brokerCPU()
}

// start spawns a scenario's child and waits until it is ready; on failure
// it records the error in r (finishing the child if it ran) and returns nil.
func (h *harness) start(r *result, name string, spec childSpec, wait, broker0 time.Duration) *proc {
	return h.started(r, func() (*proc, error) { return h.spawn(name, spec) }, wait, broker0)
}

// started is start with the child spawned by spawn.
func (h *harness) started(r *result, spawn func() (*proc, error), wait, broker0 time.Duration) *proc {
	p, err := spawn()
	if err != nil {
		r.Err = err.Error()
		return nil
	}
	if err := p.waitStart(wait); err != nil {
		r.Err = err.Error()
		h.finish(r, p, broker0)
		return nil
	}
	return p
}

// waitQuiet waits until the 1-minute load average is below --max-load, at
// most --max-load-wait.
func (h *harness) waitQuiet() {
	if h.opt.maxLoad <= 0 {
		return
	}
	deadline := time.Now().Add(h.opt.loadWait)
	logged := false
	for l := load1(); l >= h.opt.maxLoad && time.Now().Before(deadline); l = load1() {
		if !logged {
			h.logf("load %.2f: waiting for it to fall below %.2f", l, h.opt.maxLoad)
			logged = true
		}
		time.Sleep(2 * time.Second)
	}
}

func (h *harness) brokerCPU() time.Duration {
	if h.opt.embedded {
		return selfCPU() // the broker runs in this process
	}
	if h.brokerPID > 0 {
		return procCPU(h.brokerPID)
	}
	return 0
}

// finish records the child's usage and result.
func (h *harness) finish(r *result, p *proc, broker0 time.Duration) {
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		r.note("child did not exit within 2 minutes of the end; killed")
		p.kill()
		<-p.exited
	}
	r.CPU, r.MaxRSS = p.usage()
	if p.end.HWM > 0 {
		r.MaxRSS = p.end.HWM
	}
	r.BrokerCPU = h.brokerCPU() - broker0
	if p.end.Err != "" && r.Err == "" {
		r.Err = p.end.Err
	}
	if p.end.Txn != "" {
		r.note("%s", p.end.Txn)
	}
	if p.waitErr != nil && r.Err == "" {
		r.Err = fmt.Sprintf("child: %v (log: %s)", p.waitErr, p.logPath)
	}
}

// watch polls until done reports true or the child has exited and a grace
// period passed; it returns when done was first seen. early is called with
// each poll's state to catch a commit that ran ahead of the output.
func (h *harness) watch(p *proc, every time.Duration, timeout time.Duration, done func() (bool, error)) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var exitedAt time.Time
	for {
		ok, err := done()
		if err == nil && ok {
			return time.Now(), nil
		}
		select {
		case <-p.exited:
			if exitedAt.IsZero() {
				exitedAt = time.Now()
			}
			if time.Since(exitedAt) > 10*time.Second {
				if err == nil {
					err = errors.New("the child exited but the output or the committed offsets are incomplete")
				}
				return time.Time{}, err
			}
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return time.Time{}, fmt.Errorf("not done after %s (last poll error: %v)", timeout, err)
		}
		time.Sleep(every)
	}
}

// kafkaDone is the done condition of a Kafka-to-Kafka scenario: the output
// topic holds want records and (with a group) the group's committed offsets
// reached the input's end. It flags a commit seen complete while the output
// was not.
func (h *harness) kafkaDone(r *result, out string, want int64, group, in string, inEnd map[int32]int64) func() (bool, error) {
	return func() (bool, error) {
		committedAll := true
		if group != "" {
			c, err := h.admin.Committed(group, in)
			if err != nil {
				return false, err
			}
			committedAll = kit.Reached(c, inEnd)
		}
		end, err := h.admin.EndOffsets(out)
		if err != nil {
			return false, err
		}
		n := kit.Sum(end)
		if group != "" && committedAll && n < want && r.Err == "" {
			r.Err = fmt.Sprintf("committed offsets reached the input's end while the output held %d of %d records: commit before the write", n, want)
		}
		r.Out = n
		return committedAll && n >= want, nil
	}
}

// etl runs Example 3 (Conveyor, Conveyor per-message, or the sarama or
// franz-go baseline) over the seeded input.
func (h *harness) etl(name string, run int) *result {
	r, b0 := h.base(name, run)
	in, inEnd, n, inBytes := h.etlIn, h.etlInEnd, h.opt.records, h.etlInBytes
	if name == "permessage" {
		in = h.name("pm-in")
		n = min(h.opt.pmRecords, h.opt.records)
		var err error
		if inEnd, inBytes, err = h.seed(in, n); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	r.Records, r.InBytes, r.Expected = n, inBytes, gen.Kept(n)
	out := h.name(fmt.Sprintf("%s-out-%d", name, run))
	if err := h.createTopic(out, nil); err != nil {
		r.Err = err.Error()
		return r
	}
	group := h.name(fmt.Sprintf("%s-%d", name, run))
	spec := childSpec{Scenario: name, Brokers: h.brokers, InTopic: in, OutTopic: out, Group: group, Records: n}
	switch name {
	case "baseline", "franz":
		spec.End = inEnd
	case "permessage":
		spec = h.conveyorSpec(spec)
		spec.Scenario, spec.Delivery = "permessage", "per-message"
	case "etlavro":
		spec = h.avroSpec(h.conveyorSpec(spec))
		in, inEnd, inBytes = h.avro.topic, h.avro.end, h.avro.bytes
		spec.InTopic, r.InBytes = in, inBytes
	default:
		spec = h.conveyorSpec(spec)
	}
	spec.CPUProfile = h.profilePath(name, run)
	h.waitQuiet()
	r.Load1 = load1()
	logName := fmt.Sprintf("%s-%d", name, run)
	spawn := func() (*proc, error) { return h.spawn(logName, spec) }
	if name == "kstreams" || name == "kstreamseos" { // Example 3's job in Kafka Streams, the group its application id
		spec.CPUProfile = ""
		spawn = func() (*proc, error) { return h.ksSpawn(name, logName, "etl", in, out, group, n) }
	}
	p := h.started(r, spawn, 120*time.Second, b0)
	if p == nil {
		return r
	}
	timeout := time.Duration(n/500+120) * time.Second
	// The per-message path (stock watermill-kafka) leaves the offsets of its
	// last records uncommitted when a bounded run ends (sarama's auto-commit
	// does not cover them before the group is left), so its commits never
	// reach the input's end: it is timed until its output is complete, which
	// favours it, and the uncommitted remainder is noted.
	doneGroup := group
	if name == "permessage" {
		doneGroup = ""
	}
	doneAt, err := h.watch(p, 50*time.Millisecond, timeout, h.kafkaDone(r, out, r.Expected, doneGroup, in, inEnd))
	if err != nil {
		r.Err = err.Error()
	}
	r.Elapsed = doneAt.Sub(p.start)
	h.finish(r, p, b0)
	if r.Err == "" {
		if name == "permessage" {
			h.checkExact(r, out, "", in, nil)
			if c, err := h.admin.Committed(group, in); err == nil && kit.Sum(c) < n {
				r.note("timed to a complete output; %d offsets of %d left uncommitted at exit", n-kit.Sum(c), n)
			}
		} else {
			h.checkExact(r, out, group, in, inEnd)
		}
	}
	if strings.HasPrefix(name, "kstreams") {
		ksNotes(r, p)
	}
	if spec.CPUProfile != "" {
		h.pprofTop(spec.CPUProfile)
	}
	return r
}

// checkExact verifies, after the child exited, that the output holds
// exactly the expected records and the commits are exactly the input's end.
func (h *harness) checkExact(r *result, out string, group, in string, inEnd map[int32]int64) {
	n, err := h.outCount(out, transactional(r.Name))
	if err != nil {
		r.note("final check: %v", err)
		return
	}
	r.Out = n
	switch {
	case r.Out < r.Expected:
		r.Err = fmt.Sprintf("output holds %d records, want %d", r.Out, r.Expected)
	case r.Out > r.Expected:
		r.note("%d duplicates in the output (at-least-once)", r.Out-r.Expected)
	}
	if group == "" {
		return
	}
	c, err := h.admin.Committed(group, in)
	if err != nil {
		r.note("final check: %v", err)
		return
	}
	for p, e := range inEnd {
		if c[p] != e {
			r.Err = fmt.Sprintf("partition %d committed at %d, input ends at %d", p, c[p], e)
		}
	}
}

// file2kafka runs Example 2 (json.read → kafka) or the raw producer over
// the same file.
func (h *harness) file2kafka(name string, run int) *result {
	r, b0 := h.base(name, run)
	r.Records, r.Expected = h.opt.records, h.opt.records
	out := h.name(fmt.Sprintf("%s-out-%d", name, run))
	if err := h.createTopic(out, nil); err != nil {
		r.Err = err.Error()
		return r
	}
	spec := childSpec{Scenario: name, Brokers: h.brokers, OutTopic: out, File: h.dataFile}
	if name == "file2kafka" {
		spec = h.conveyorSpec(spec)
		spec.SourceOpts = splitOpts(h.opt.readOpts) // json.read takes none of the kafka source keys
	}
	spec.CPUProfile = h.profilePath(name, run)
	h.waitQuiet()
	r.Load1 = load1()
	p := h.start(r, fmt.Sprintf("%s-%d", name, run), spec, 120*time.Second, b0)
	if p == nil {
		return r
	}
	doneAt, err := h.watch(p, 50*time.Millisecond, time.Duration(r.Records/500+120)*time.Second, h.kafkaDone(r, out, r.Expected, "", "", nil))
	if err != nil {
		r.Err = err.Error()
	}
	r.Elapsed = doneAt.Sub(p.start)
	h.finish(r, p, b0)
	r.InBytes = p.end.InBytes
	if r.Err == "" {
		h.checkExact(r, out, "", "", nil)
	}
	if spec.CPUProfile != "" {
		h.pprofTop(spec.CPUProfile)
	}
	return r
}

// kafka2file runs Example 1 (kafka → json.write). The file appears only
// when the run ends (written to a temporary file, renamed at the end), so
// the time is until the file exists and the commits reached the input's
// end.
func (h *harness) kafka2file() *result {
	r, b0 := h.base("kafka2file", 1)
	r.Records, r.Expected, r.InBytes = h.opt.records, h.opt.records, h.etlInBytes
	path, _ := filepath.Abs(filepath.Join(h.opt.out, "kafka2file-out.json"))
	os.Remove(path)
	h.files = append(h.files, path)
	group := h.name("kafka2file")
	spec := h.conveyorSpec(childSpec{Scenario: "kafka2file", InTopic: h.etlIn, Group: group, Records: r.Records, File: path})
	p := h.start(r, "kafka2file-1", spec, 60*time.Second, b0)
	if p == nil {
		return r
	}
	done := func() (bool, error) {
		c, err := h.admin.Committed(group, h.etlIn)
		if err != nil {
			return false, err
		}
		_, statErr := os.Stat(path)
		if kit.Reached(c, h.etlInEnd) && statErr != nil && r.Err == "" {
			r.Err = "committed offsets reached the input's end before the output file was in place"
		}
		return statErr == nil && kit.Reached(c, h.etlInEnd), nil
	}
	doneAt, err := h.watch(p, 50*time.Millisecond, time.Duration(r.Records/500+120)*time.Second, done)
	if err != nil {
		r.Err = err.Error()
	}
	r.Elapsed = doneAt.Sub(p.start)
	h.finish(r, p, b0)
	if r.Err == "" {
		n, err := countRecords(path)
		r.Out = n
		switch {
		case err != nil:
			r.Err = fmt.Sprintf("reading the output file: %v", err)
		case n != r.Expected:
			r.Err = fmt.Sprintf("output file holds %d records, want %d", n, r.Expected)
		}
	}
	return r
}

func countRecords(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rd := jsonio.NewReader(bufio.NewReaderSize(f, 1<<20), jsonio.FormatAuto)
	var n int64
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// profilePath is where run 1 of a throughput scenario writes its CPU
// profile when --cpuprofile is set ("" otherwise).
func (h *harness) profilePath(name string, run int) string {
	if !h.opt.cpuProfile || run != 1 {
		return ""
	}
	p, _ := filepath.Abs(filepath.Join(h.opt.out, name+".cpu.pprof"))
	return p
}

// pprofTop writes `go tool pprof -top` summaries of a profile next to it.
func (h *harness) pprofTop(profile string) {
	for _, mode := range []string{"flat", "cum"} {
		args := []string{"tool", "pprof", "-top", "-nodecount=40"}
		if mode == "cum" {
			args = append(args, "-cum")
		}
		out, err := exec.Command("go", append(args, profile)...).CombinedOutput()
		if err != nil {
			h.logf("pprof: %v", err)
			return
		}
		_ = os.WriteFile(strings.TrimSuffix(profile, ".pprof")+".top-"+mode+".txt", out, 0o644)
	}
}

// cleanup deletes the topics and large files this run made.
func (h *harness) cleanup() {
	for _, f := range h.files {
		os.RemoveAll(f)
	}
	if h.opt.keepTopics || h.opt.embedded {
		return
	}
	if err := h.admin.DeleteTopics(h.topics...); err != nil {
		h.logf("deleting topics: %v", err)
	}
}
