package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// node is one stage of a compiled pipeline.
type node struct {
	st       *config.Stage
	spec     *plugin.Spec
	role     plugin.Role
	cfg      any     // decoded config
	children []*node // stages that read this one, in file order
}

// Plan is a checked pipeline, ready to run.
type Plan struct {
	Pipeline *config.Pipeline
	nodes    []*node
	sources  []*node
	// deadLetter is the sink of a dead-letter topic; nil for none or a file.
	deadLetter *node
}

// Compile checks every stage of p against reg and links the stages. It
// reports all problems at once, as config.Errors, and never connects to
// anything.
func Compile(p *config.Pipeline, reg *plugin.Registry) (*Plan, error) {
	var errs []error
	errs = append(errs, checkPlugins(p, reg)...)
	plan := &Plan{Pipeline: p}
	byID := map[string]*node{}
	broken := map[*config.Stage]bool{}
	for i := range p.Stages {
		st := &p.Stages[i]
		n, err := compileStage(st, reg)
		if err != nil {
			errs = append(errs, err)
			broken[st] = true
		}
		if n == nil {
			continue
		}
		plan.nodes = append(plan.nodes, n)
		if _, dup := byID[st.ID]; !dup {
			byID[st.ID] = n
		}
	}
	for _, n := range plan.nodes {
		for _, in := range n.st.Inputs {
			parent, ok := byID[in]
			if !ok {
				continue
			}
			parent.children = append(parent.children, n)
			if parent.role == plugin.RoleSink {
				errs = append(errs, readsSink(n.st, parent))
			}
		}
	}
	// A stage is read when any stage names it, even one that did not compile
	// (its own error says why); a stage without an id is reported already.
	read := map[string]bool{}
	for _, st := range p.Stages {
		for _, in := range st.Inputs {
			read[in] = true
		}
	}
	for _, n := range plan.nodes {
		if n.role == plugin.RoleSource {
			plan.sources = append(plan.sources, n)
		}
		if n.role != plugin.RoleSink && n.st.ID != "" && !read[n.st.ID] {
			errs = append(errs, stageErr(config.Graph, n.st, n.st.Pos, "", fmt.Sprintf("no stage reads the output of this %s: add a sink with inputs = [%q]", n.role, n.st.ID)))
		}
	}
	for _, n := range plan.nodes {
		if n.spec.Check != nil && n.cfg != nil && !broken[n.st] {
			if err := n.spec.Check(n.cfg, n.st, p); err != nil {
				errs = append(errs, checkErr(n.st, err))
			}
		}
	}
	var err error
	if plan.deadLetter, err = compileDeadLetter(p, reg, broken); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkStateful(plan, broken)...)
	errs = append(errs, checkGuarantee(plan, broken)...)
	if len(p.Stages) > 0 && len(plan.sources) == 0 && len(plan.nodes) == len(p.Stages) {
		errs = append(errs, &config.Error{Pos: config.Pos{File: p.File}, Stage: -1, Kind: config.Graph, Msg: "the pipeline has no source (a stage with inputs = [])"})
	}
	if len(p.Stages) == 0 {
		errs = append(errs, &config.Error{Pos: config.Pos{File: p.File}, Stage: -1, Kind: config.Missing, Msg: "the pipeline has no [[stages]]"})
	}
	if err := config.Merge(append([]error{p.Validate()}, errs...)...); err != nil {
		return nil, err
	}
	return plan, nil
}

func checkPlugins(p *config.Pipeline, reg *plugin.Registry) []error {
	var errs []error
	known := reg.Plugins()
	for _, name := range p.Global.Plugins {
		if !slices.Contains(known, name) {
			msg := fmt.Sprintf("unknown plugin %q (known: %v)", name, known)
			if s := config.Closest(name, known); s != "" {
				msg = fmt.Sprintf("unknown plugin %q (did you mean %q?)", name, s)
			}
			errs = append(errs, &config.Error{Pos: p.Global.PluginsPos, Stage: -1, Key: "global.plugins", Kind: config.BadValue, Msg: msg})
		}
	}
	return errs
}

func compileStage(st *config.Stage, reg *plugin.Registry) (*node, error) {
	if st.Function == "" {
		return nil, nil // reported by config
	}
	spec, ok := reg.Lookup(st.Function)
	if !ok {
		msg := fmt.Sprintf("unknown function %q", st.Function)
		if s := config.Closest(st.Function, reg.Names()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += " (`conveyor list` shows the functions)"
		}
		return nil, stageErr(config.BadValue, st, st.FunctionPos, "function", msg)
	}
	role, err := spec.RoleFor(len(st.Inputs) > 0)
	if err != nil {
		return nil, stageErr(config.Graph, st, st.InputsPos, "inputs", err.Error())
	}
	n := &node{st: st, spec: spec, role: role}
	switch role {
	case plugin.RoleSource:
		n.cfg, err = plugin.DecodeConfig(spec.Source, st)
	case plugin.RoleOperator:
		n.cfg, err = plugin.DecodeConfig(spec.Operator, st)
	default:
		n.cfg, err = plugin.DecodeConfig(spec.Sink, st)
	}
	return n, err
}

// readsSink is the error of a stage whose inputs name sink: a sink writes
// the records it gets and passes none on, so the stage would get nothing.
func readsSink(st *config.Stage, sink *node) *config.Error {
	return stageErr(config.Graph, st, st.InputsPos, "inputs", fmt.Sprintf(
		"input %q is a sink: %s writes the records it gets and passes none on; read what it reads instead: inputs = %s",
		sink.st.ID, sink.st.Function, quoteList(sink.st.Inputs)))
}

// quoteList writes ids as a TOML array: ["a", "b"].
func quoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// checkErr reports the error of a Spec.Check at the stage, or at the key
// when it is a *config.FieldError (at the stage, still naming the key, when
// the key was not written).
func checkErr(st *config.Stage, err error) *config.Error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		pos := st.Pos
		if v, ok := st.Config[fe.Key]; ok {
			pos = v.Pos
		}
		return stageErr(config.BadValue, st, pos, "config."+fe.Key, fe.Msg)
	}
	return stageErr(config.BadValue, st, st.Pos, "", err.Error())
}

func stageErr(kind config.Kind, st *config.Stage, pos config.Pos, key, msg string) *config.Error {
	if pos.Line == 0 {
		pos = st.Pos
	}
	return &config.Error{Pos: pos, Stage: st.Index, StageID: st.ID, Key: key, Kind: kind, Msg: msg}
}

// sourceFunctions are the functions of the sources n reads from, through
// any chain of stages.
func (p *Plan) sourceFunctions(n *node) []string {
	var out []string
	for _, s := range p.sources {
		if s == n || reaches(s, n) {
			out = append(out, s.st.Function)
		}
	}
	return out
}

// reaches reports whether to is below from.
func reaches(from, to *node) bool {
	for _, c := range from.children {
		if c == to || reaches(c, to) {
			return true
		}
	}
	return false
}

// errFatal marks an error that must stop the run.
var errFatal = errors.New("pipeline stopped")
