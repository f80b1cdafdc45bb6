package config

import (
	"fmt"
	"strings"
)

// Validate checks the structure of a pipeline built in code (ids, inputs,
// cycles); [Parse] already does this for files.
func (p *Pipeline) Validate() error {
	return checkGraph(p).Err()
}

// checkGraph reports empty and duplicate ids, inputs that name no stage and
// cycles.
func checkGraph(p *Pipeline) Errors {
	var errs Errors
	ids := make([]string, 0, len(p.Stages))
	seen := map[string]int{}
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.ID == "" {
			continue // reported while loading, or nothing to say for code
		}
		if first, dup := seen[st.ID]; dup {
			errs = append(errs, &Error{Kind: Graph, Pos: st.Pos, Stage: i, StageID: st.ID, Key: "id",
				Msg: fmt.Sprintf("duplicate stage id (first used by stages[%d] at %s)", first, p.Stages[first].Pos)})
			continue
		}
		seen[st.ID] = i
		ids = append(ids, st.ID)
	}
	for i := range p.Stages {
		st := &p.Stages[i]
		dup := map[string]bool{}
		for _, in := range st.Inputs {
			switch _, ok := seen[in]; {
			case in == st.ID:
				errs = append(errs, &Error{Kind: Graph, Pos: st.InputsPos, Stage: i, StageID: st.ID, Key: "inputs", Msg: "a stage cannot be its own input"})
			case !ok:
				errs = append(errs, &Error{Kind: Graph, Pos: st.InputsPos, Stage: i, StageID: st.ID, Key: "inputs",
					Msg: fmt.Sprintf("no stage has id %q%s", in, suggestion(in, ids))})
			case dup[in]:
				errs = append(errs, &Error{Kind: Graph, Pos: st.InputsPos, Stage: i, StageID: st.ID, Key: "inputs", Msg: fmt.Sprintf("input %q is listed twice", in)})
			}
			dup[in] = true
		}
	}
	return append(errs, cycles(p, seen)...)
}

// cycles reports each cycle once, at the stage where the search closed it.
func cycles(p *Pipeline, index map[string]int) Errors {
	const (
		unvisited = iota
		active
		done
	)
	state := make([]int, len(p.Stages))
	var errs Errors
	var stack []string
	var visit func(i int)
	visit = func(i int) {
		state[i] = active
		stack = append(stack, p.Stages[i].ID)
		for _, in := range p.Stages[i].Inputs {
			j, ok := index[in]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case unvisited:
				visit(j)
			case active:
				k := len(stack) - 1
				for k >= 0 && stack[k] != in {
					k--
				}
				loop := append(append([]string{}, stack[k:]...), in)
				reverse(loop) // data flows input -> stage
				st := &p.Stages[i]
				errs = append(errs, &Error{Kind: Graph, Pos: st.InputsPos, Stage: i, StageID: st.ID, Key: "inputs",
					Msg: "cycle: " + strings.Join(loop, " -> ")})
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range p.Stages {
		if state[i] == unvisited && p.Stages[i].ID != "" {
			if j, ok := index[p.Stages[i].ID]; ok && j == i {
				visit(i)
			}
		}
	}
	return errs
}

func reverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}
