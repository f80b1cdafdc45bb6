package pipetest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/plugin"
)

// caseTimeout bounds one case's run: a pipeline that never ends (a source
// that streams) fails the case instead of hanging the command.
const caseTimeout = 60 * time.Second

// dlqStage is the stage id the run gives a dead-letter topic's sink.
const dlqStage = "dead_letter_queue"

// outcome is what one run of a case produced.
type outcome struct {
	sum     flow.Summary
	err     error
	written map[string][]written // by sink stage, in input order
	dead    []deadLetter         // in input order
	inputs  []*Input             // by input index
}

// deadLetter is one entry of the dead-letter queue, decoded.
type deadLetter struct {
	Error     string          `json:"error"`
	Stage     string          `json:"stage"`
	Source    string          `json:"source"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Record    json.RawMessage `json:"record"`
	Text      string          `json:"record_text"`
	from      int
}

// stages are the pipeline's sources and sinks, by id, for checking the
// test file's stage keys.
type stages struct {
	sources, sinks, all []string
	function            map[string]string // by stage id
	keyFormat           map[string]string // a kafka stage's key_format, by stage id
}

func stagesOf(p *config.Pipeline, reg *plugin.Registry) stages {
	s := stages{function: map[string]string{}, keyFormat: map[string]string{}}
	for _, st := range p.Stages {
		s.function[st.ID] = st.Function
		s.keyFormat[st.ID], _ = st.Config["key_format"].V.(string)
		s.all = append(s.all, st.ID)
		spec, ok := reg.Lookup(st.Function)
		if !ok {
			continue
		}
		switch role, err := spec.RoleFor(len(st.Inputs) > 0); {
		case err != nil:
		case role == plugin.RoleSource:
			s.sources = append(s.sources, st.ID)
		case role == plugin.RoleSink:
			s.sinks = append(s.sinks, st.ID)
		}
	}
	return s
}

// loadPipeline parses the pipeline under test with the file's env over the
// process's, and checks it against reg.
func (f *File) loadPipeline(reg *plugin.Registry) (*config.Pipeline, error) {
	path := f.PipelinePath()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &config.Error{Pos: config.Pos{File: f.Path, Line: 1, Col: 1}, Stage: -1, Key: "pipeline", Kind: config.BadValue,
			Msg: fmt.Sprintf("cannot read the pipeline: %v", err)}
	}
	env := func(k string) (string, bool) {
		if v, ok := f.Env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	p, err := config.ParseWithEnv(path, data, env)
	if p == nil {
		return nil, err
	}
	return p, config.Merge(err, flow.Validate(p, flow.WithRegistry(reg)))
}

// resolveStages fills in the stage of every input and expectation that
// leaves it out, and reports those that name no stage of the right role.
func (f *File) resolveStages(st stages) error {
	var errs []error
	bad := func(pos config.Pos, key, format string, args ...any) {
		errs = append(errs, &config.Error{Kind: config.BadValue, Pos: pos, Stage: -1, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	pick := func(pos config.Pos, key string, got *string, role string, ids []string) {
		switch {
		case *got == "" && len(ids) == 1:
			*got = ids[0]
		case *got == "":
			bad(pos, key, "the pipeline has %d %ss (%s): say which with stage = \"...\"", len(ids), role, strings.Join(ids, ", "))
		case !slices.Contains(ids, *got):
			msg := fmt.Sprintf("%q is not a %s of %s (%ss: %s)", *got, role, f.Pipeline, role, strings.Join(ids, ", "))
			if s := config.Closest(*got, ids); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			bad(pos, key, "%s", msg)
		}
	}
	for i := range f.Tests {
		c := &f.Tests[i]
		partition := func(pos config.Pos, key string, p int) {
			if p >= c.Partitions {
				bad(pos, key, "the case's topics have %d partition(s), numbered from 0 (partitions = %d); raise partitions for %d", c.Partitions, c.Partitions, p)
			}
		}
		kafkaOnly := func(table config.Pos, keyPos map[string]config.Pos, path, stage string, keys []string) {
			if fn := st.function[stage]; fn != "" && fn != "kafka" {
				for _, k := range keys {
					bad(at(table, keyPos, k), path+"."+k, "stage %q is %s, not kafka: it has no %s", stage, fn, k)
				}
			}
		}
		for j := range c.Input {
			in := &c.Input[j]
			path := fmt.Sprintf("tests[%d].input[%d]", i, j)
			pick(at(in.Pos, in.KeyPos, "stage"), path+".stage", &in.Stage, "source", st.sources)
			partition(at(in.Pos, in.KeyPos, "partition"), path+".partition", in.Partition)
			kafkaOnly(in.Pos, in.KeyPos, path, in.Stage, in.kafkaKeys())
			if key, msg := in.keySchemaFits(in.Stage, st.keyFormat[in.Stage]); msg != "" && st.function[in.Stage] == "kafka" {
				bad(at(in.Pos, in.KeyPos, key), path+"."+key, "%s", msg)
			}
		}
		for j := range c.Output {
			e := &c.Output[j]
			path := fmt.Sprintf("tests[%d].output[%d]", i, j)
			pick(at(e.Pos, e.KeyPos, "stage"), path+".stage", &e.Stage, "sink", st.sinks)
			partition(at(e.Pos, e.KeyPos, "partition"), path+".partition", e.Partition)
			kafkaOnly(e.Pos, e.KeyPos, path, e.Stage, e.kafkaKeys())
		}
		for j, d := range c.DeadLetter {
			if d.Stage != "" && !slices.Contains(st.all, d.Stage) {
				bad(at(d.Pos, d.KeyPos, "stage"), fmt.Sprintf("tests[%d].dead_letter[%d].stage", i, j), "%q is not a stage of %s%s", d.Stage, f.Pipeline, closest(d.Stage, st.all))
			}
		}
		errs = append(errs, c.resolveTables(i, st, f.Pipeline)...)
		for j, s := range c.NoOutput {
			if !slices.Contains(st.sinks, s) {
				bad(c.Pos, fmt.Sprintf("tests[%d].no_output[%d]", i, j), "%q is not a sink of %s (sinks: %s)%s", s, f.Pipeline, strings.Join(st.sinks, ", "), closest(s, st.sinks))
			}
		}
	}
	return config.Merge(errs...)
}

func closest(got string, known []string) string {
	if s := config.Closest(got, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// runFixtures runs case c of the pipeline p on in-memory fixtures in place
// of its sources and sinks (see world.registry).
func runFixtures(ctx context.Context, p *config.Pipeline, reg *plugin.Registry, c *Case) (*outcome, error) {
	return runOn(ctx, p, reg, c, nil, nil)
}

// runOn runs case c of the pipeline p with fixtures in place of its
// sources and sinks, but for the kafka ones when b is set: those then run
// for real against b, fed and read back through it (topics: what each
// kafka sink stage may have written, besides its topic key).
func runOn(ctx context.Context, p *config.Pipeline, reg *plugin.Registry, c *Case, b *devkafka.Broker, topics map[string][]string) (*outcome, error) {
	w := &world{partitions: int32(c.Partitions), inputs: map[string][]*Input{}, index: map[*Input]int{},
		written: map[string][]written{}, from: map[provenance]int{}, tables: map[string][]*TableRow{}}
	for i := range c.Table {
		w.tables[c.Table[i].Stage] = append(w.tables[c.Table[i].Stage], &c.Table[i])
	}
	out := &outcome{}
	for i := range c.Input {
		in := &c.Input[i]
		w.inputs[in.Stage] = append(w.inputs[in.Stage], in)
		w.index[in] = i
		out.inputs = append(out.inputs, in)
	}
	var keep []string
	if b != nil {
		keep = []string{"kafka"}
		onBroker(p, b.Addr)
		if err := w.produce(p, b.Addr); err != nil {
			return nil, err
		}
	}
	fixtures, err := w.registry(reg, keep...)
	if err != nil {
		return nil, err
	}
	dlqFile := ""
	if dl := p.ErrorHandling.DeadLetterQueue; dl != nil && dl.Path != "" {
		dir, err := os.MkdirTemp("", "conveyor-test-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		dlqFile = filepath.Join(dir, "dead-letters.jsonl")
		dl.Path = dlqFile
	}
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	out.sum, out.err = flow.Execute(ctx, p, flow.WithRegistry(fixtures))
	if ctx.Err() != nil && out.err == nil {
		out.err = fmt.Errorf("the run did not end within %v (does a source stream without limit?)", caseTimeout)
	}
	if b != nil {
		if err := w.readBack(p, b.Addr, topics); err != nil {
			return nil, err
		}
	}
	for id, recs := range w.written {
		slices.SortStableFunc(recs, func(a, b written) int {
			return cmp.Or(cmp.Compare(order(a.from), order(b.from)), cmp.Compare(a.seq, b.seq))
		})
		if id != dlqStage {
			if out.written == nil {
				out.written = map[string][]written{}
			}
			out.written[id] = recs
		}
	}
	var entries [][]byte
	for _, r := range w.written[dlqStage] {
		entries = append(entries, r.value)
	}
	if dlqFile != "" {
		if entries, err = readLines(dlqFile); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		var d deadLetter
		if err := json.Unmarshal(e, &d); err != nil {
			return nil, fmt.Errorf("a dead-letter entry is not JSON: %v: %s", err, e)
		}
		d.from = -1
		if i, ok := w.from[provenance{d.Source, d.Partition, d.Offset}]; ok {
			d.from = i
		}
		out.dead = append(out.dead, d)
	}
	slices.SortStableFunc(out.dead, func(a, b deadLetter) int { return cmp.Compare(order(a.from), order(b.from)) })
	return out, nil
}

// order puts records of unknown origin (-1) last.
func order(from int) int {
	if from < 0 {
		return int(^uint(0) >> 1)
	}
	return from
}

func readLines(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, slices.Clone(sc.Bytes()))
		}
	}
	return out, sc.Err()
}
