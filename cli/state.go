package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/plugin"
)

// stateAbout is what `conveyor state --help` says the command does.
const stateAbout = `Lists the pipeline's stateful stages (window.aggregate, dedupe.apply, a Go
plugin's plugin.Stateful operator): where each keeps its store (memory, or
disk under [global] state_dir, with each partition's checkpoint), its
changelog topic <group_id>-<stage id>-changelog with, per partition, the
log start and end offsets, the bytes on the broker's disk (where the broker
says), and the keys and timers it holds. The keys are counted by reading the
changelog from its start.

With --stage and --key, prints that key's state as JSON, per partition: the
last value the changelog holds for it, decoded as the operator stores it
(window.aggregate: each window of the group, as the record it would emit;
dedupe.apply: when the identity was first seen). KEY is the group's or
identity's value: DE, 42, or a JSON array for a group of several fields
('["DE","web"]'). Exit 1 when it holds none. Reads only: creates and commits
nothing.`

// stateReport is one stateful stage, as printed.
type stateReport struct {
	Stage      string           `json:"stage"`
	Function   string           `json:"function"`
	Store      string           `json:"store"`
	Dir        string           `json:"dir,omitempty"`
	Changelog  string           `json:"changelog,omitempty"`
	Partitions []statePartition `json:"partitions,omitempty"`
	Keys       int64            `json:"keys"`
	Timers     int64            `json:"timers"`
	Note       string           `json:"note,omitempty"`
	Error      string           `json:"error,omitempty"`
}

type statePartition struct {
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Bytes     *int64 `json:"bytes"`
	Keys      int64  `json:"keys"`
	Timers    int64  `json:"timers"`
	// Checkpoint is the disk store's; DiskNote says why there is none.
	Checkpoint *int64 `json:"disk_checkpoint,omitempty"`
	DiskNote   string `json:"disk,omitempty"`
}

// statefulStage is a stateful stage of the pipeline with what it needs.
type statefulStage struct {
	st     *config.Stage
	spec   *plugin.Spec
	source *kafka.SourceConfig // the kafka source above; nil for none
}

func (a *app) cmdState(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("state", "[--format text|json] PIPELINE.toml [--stage ID --key KEY]", stateAbout)
	format := fs.String("format", "text", "text or json (the list of stages)")
	stage := fs.String("stage", "", "the stage whose key to print, with --key")
	key := fs.String("key", "", "the key whose state to print, with --stage")
	if exit, ok := fs.parse(args, stdout, stderr); !ok {
		return exit
	}
	if fs.NArg() != 1 {
		return fs.badArgs(stderr, "give one pipeline file")
	}
	if *format != "text" && *format != "json" {
		return fs.badArgs(stderr, "--format: want text or json, got %q", *format)
	}
	if (*stage == "") != (*key == "") {
		return fs.badArgs(stderr, "--stage and --key go together")
	}
	p, err := a.load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	stages := a.statefulStages(p)
	if *stage != "" {
		return a.stateKey(p, stages, *stage, *key, stdout, stderr)
	}
	if len(stages) == 0 {
		fmt.Fprintf(stderr, "conveyor state: %s has no stateful stage (window.aggregate, dedupe.apply, a plugin.Stateful operator)\n", p.File)
		return 1
	}
	reports := make([]stateReport, len(stages))
	code := 0
	for i, s := range stages {
		reports[i] = a.stateReport(p, s)
		if reports[i].Error != "" {
			fmt.Fprintf(stderr, "conveyor state: stage %q: %s\n", s.st.ID, reports[i].Error)
			code = 1
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"stages": reports})
		return code
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printState(stdout, r)
	}
	return code
}

// statefulStages returns p's stateful stages in file order, each with the
// kafka source above it (the engine allows one at most).
func (a *app) statefulStages(p *config.Pipeline) []statefulStage {
	sources, _ := a.kafkaSources(p) // none: the state lives in memory
	byID := map[string]*config.Stage{}
	for i := range p.Stages {
		byID[p.Stages[i].ID] = &p.Stages[i]
	}
	var out []statefulStage
	for i := range p.Stages {
		st := &p.Stages[i]
		spec, ok := a.reg.Lookup(st.Function)
		if !ok || spec.State == nil || spec.Operator == nil || len(st.Inputs) == 0 {
			continue
		}
		s := statefulStage{st: st, spec: spec}
		above := ancestors(st, byID)
		for _, src := range sources {
			if above[src.stage] {
				s.source = src.cfg
				break
			}
		}
		out = append(out, s)
	}
	return out
}

// ancestors are the ids of the stages st reads, directly or not.
func ancestors(st *config.Stage, byID map[string]*config.Stage) map[string]bool {
	seen := map[string]bool{}
	todo := slices.Clone(st.Inputs)
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if in := byID[id]; in != nil {
			todo = append(todo, in.Inputs...)
		}
	}
	return seen
}

// stateReport reads one stage's changelog, counting its keys.
func (a *app) stateReport(p *config.Pipeline, s statefulStage) stateReport {
	r := stateReport{Stage: s.st.ID, Function: s.st.Function, Store: "memory"}
	if s.source == nil {
		r.Note = "no kafka source above: the state lives in memory for the run only, without a changelog"
		return r
	}
	type counts struct{ keys, timers map[string]bool }
	per := map[int32]*counts{}
	topic, parts, err := kafka.ReadChangelog(a.ctx, s.source, s.st.ID, func(part int32, c state.Change) {
		n := per[part]
		if n == nil {
			n = &counts{keys: map[string]bool{}, timers: map[string]bool{}}
			per[part] = n
		}
		set := n.keys
		switch kind, _ := state.SplitKey(c.Key); kind {
		case state.Timer:
			set = n.timers
		case state.Mark:
			return
		}
		if c.Value == nil {
			delete(set, string(c.Key))
		} else {
			set[string(c.Key)] = true
		}
	})
	r.Changelog = topic
	stateDir := p.ResolvePath(p.Global.StateDir)
	if stateDir != "" {
		r.Store = "disk"
		r.Dir, _ = filepath.Abs(filepath.Join(stateDir, topic))
	}
	if errors.Is(err, kafka.ErrTopicNotFound) {
		r.Note = fmt.Sprintf("changelog %q does not exist yet: the stage has not run below group %q", topic, s.source.GroupID)
		return r
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, cp := range parts {
		sp := statePartition{Partition: cp.Partition, Start: cp.Start, End: cp.End}
		if cp.Bytes >= 0 {
			sp.Bytes = &cp.Bytes
		}
		if n := per[cp.Partition]; n != nil {
			sp.Keys, sp.Timers = int64(len(n.keys)), int64(len(n.timers))
		}
		if r.Store == "disk" {
			cpt, err := state.DiskCheckpoint(state.DiskDir(stateDir, topic, cp.Partition))
			switch {
			case err == nil:
				sp.Checkpoint = &cpt
			case errors.Is(err, os.ErrNotExist):
				sp.DiskNote = "absent (restored from the changelog when the partition is assigned here)"
			default:
				sp.DiskNote = err.Error()
			}
		}
		r.Keys += sp.Keys
		r.Timers += sp.Timers
		r.Partitions = append(r.Partitions, sp)
	}
	return r
}

// printState writes one report as a table with a total line.
func printState(w io.Writer, r stateReport) {
	fmt.Fprintf(w, "stage %q (%s): store %s", r.Stage, r.Function, r.Store)
	if r.Dir != "" {
		fmt.Fprintf(w, " in %s/<partition>", r.Dir)
	}
	fmt.Fprintln(w)
	if r.Note != "" {
		fmt.Fprintf(w, "  %s\n", r.Note)
	}
	if r.Error != "" || r.Partitions == nil {
		return
	}
	fmt.Fprintf(w, "changelog %q:\n", r.Changelog)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "PARTITION\tSTART\tEND\tBYTES\tKEYS\tTIMERS"
	if r.Store == "disk" {
		head += "\tDISK CHECKPOINT"
	}
	fmt.Fprintln(tw, head)
	var bytes int64
	for _, p := range r.Partitions {
		b := "-"
		if p.Bytes != nil {
			b = fmt.Sprint(*p.Bytes)
			bytes += *p.Bytes
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d", p.Partition, p.Start, p.End, b, p.Keys, p.Timers)
		if r.Store == "disk" {
			if p.Checkpoint != nil {
				fmt.Fprintf(tw, "\t%d", *p.Checkpoint)
			} else {
				fmt.Fprintf(tw, "\t%s", p.DiskNote)
			}
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t%d\t%d\t%d\n", bytes, r.Keys, r.Timers)
	tw.Flush()
}

// keyState is one stored key of the key asked for, as printed.
type keyState struct {
	Partition int32           `json:"partition"`
	Value     json.RawMessage `json:"value"`
}

// stateKey prints the state the changelog holds for key in stage id.
func (a *app) stateKey(p *config.Pipeline, stages []statefulStage, id, key string, stdout, stderr io.Writer) int {
	i := slices.IndexFunc(stages, func(s statefulStage) bool { return s.st.ID == id })
	if i < 0 {
		ids := make([]string, len(stages))
		for j, s := range stages {
			ids[j] = s.st.ID
		}
		msg := fmt.Sprintf("conveyor state: %s has no stateful stage %q", p.File, id)
		if c := config.Closest(id, ids); c != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", c)
		}
		if len(ids) > 0 {
			msg += "; its stateful stages: " + strings.Join(ids, ", ")
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	s := stages[i]
	if s.source == nil {
		fmt.Fprintf(stderr, "conveyor state: stage %q has no kafka source above: its state lives in memory for the run only, without a changelog to read\n", id)
		return 1
	}
	match, err := a.inspector(p, s, key)
	if err != nil {
		fmt.Fprintf(stderr, "conveyor state: stage %q: %v\n", id, err)
		return 1
	}
	type at struct {
		part   int32
		stored string
	}
	last := map[at][]byte{}
	topic, _, err := kafka.ReadChangelog(a.ctx, s.source, id, func(part int32, c state.Change) {
		if kind, stored := state.SplitKey(c.Key); kind == state.Processor {
			k := at{part, string(stored)}
			if c.Value == nil {
				delete(last, k)
			} else {
				last[k] = c.Value
			}
		}
	})
	if err != nil {
		fmt.Fprintf(stderr, "conveyor state: stage %q: %v\n", id, err)
		return 1
	}
	keys := make([]at, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y at) int {
		if x.part != y.part {
			return int(x.part - y.part)
		}
		return strings.Compare(x.stored, y.stored)
	})
	found := []keyState{}
	for _, k := range keys {
		if v, ok := match([]byte(k.stored), last[k]); ok {
			found = append(found, keyState{Partition: k.part, Value: v})
		}
	}
	if len(found) == 0 { // the error alone: nothing on stdout a script would take for state
		fmt.Fprintf(stderr, "conveyor state: changelog %q holds no state for key %q\n", topic, key)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"stage": id, "key": key, "changelog": topic, "state": found})
	return 0
}

// inspector builds the stage's processor and returns its state.Inspector
// for key; a processor without one matches the stored key equal to key,
// its value shown as JSON when it is, else as a string or hex.
func (a *app) inspector(p *config.Pipeline, s statefulStage, key string) (func(stored, value []byte) ([]byte, bool), error) {
	cfg, err := plugin.DecodeConfig(s.spec.Operator, s.st)
	if err != nil {
		return nil, err
	}
	op, err := s.spec.Operator.Build(a.ctx, cfg, plugin.Env{Stage: s.st, Logger: zap.NewNop(), Dir: filepath.Dir(p.File), Name: p.Pipeline.Name})
	if err != nil {
		return nil, err
	}
	if so, ok := op.(*plugin.StatefulOperator); ok {
		if in, ok := so.Processor.(state.Inspector); ok {
			return in.Inspect(key), nil
		}
	}
	return func(stored, value []byte) ([]byte, bool) {
		if string(stored) != key {
			return nil, false
		}
		switch {
		case json.Valid(value):
			return value, true
		case utf8.Valid(value):
			b, _ := json.Marshal(string(value))
			return b, true
		}
		b, _ := json.Marshal(map[string]string{"hex": fmt.Sprintf("%x", value)})
		return b, true
	}, nil
}
