package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/plugin"
)

// jsonInputs returns the json.read stages of p, which has passed
// validation, each with its file's path resolved. A registry whose
// "json.read" is not Conveyor's has none.
func (a *app) jsonInputs(p *config.Pipeline) (stages []*config.Stage, paths []string) {
	spec, ok := a.reg.Lookup("json.read")
	if !ok || spec.Source == nil {
		return nil, nil
	}
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Function != "json.read" {
			continue
		}
		cfg, err := plugin.DecodeConfig(spec.Source, st)
		if err != nil {
			continue // validation reported it
		}
		if c, ok := cfg.(*jsonfile.ReadConfig); ok {
			stages = append(stages, st)
			paths = append(paths, p.ResolvePath(c.Path))
		}
	}
	return stages, paths
}

// emptyInputs says, at the end of a run, which json.read files hold no
// records: a run that did nothing says why.
func (a *app) emptyInputs(p *config.Pipeline) []string {
	var out []string
	stages, paths := a.jsonInputs(p)
	for i, st := range stages {
		f, err := os.Open(paths[i])
		if err != nil {
			continue
		}
		_, err = jsonio.NewReader(f, jsonio.FormatAuto).Next()
		f.Close()
		if errors.Is(err, io.EOF) {
			out = append(out, fmt.Sprintf("stage %q (json.read): %s holds no records", st.ID, paths[i]))
		}
	}
	return out
}

// missingInputs warns, for validate, about each json.read stage of p whose
// file does not exist now: not an error, since a run may find it there
// later, but most often a typo or a path resolved from another directory.
// p has passed validation.
func (a *app) missingInputs(p *config.Pipeline) []string {
	var out []string
	stages, paths := a.jsonInputs(p)
	for i, st := range stages {
		if _, err := os.Stat(paths[i]); errors.Is(err, fs.ErrNotExist) {
			e := &config.Error{Pos: st.Config["path"].Pos, Stage: st.Index, StageID: st.ID, Key: "config.path",
				Msg: fmt.Sprintf("warning: %s does not exist (yet): a run fails unless it is there by then", paths[i])}
			if e.Pos.File == "" {
				e.Pos.File = p.File
			}
			out = append(out, e.Error())
		}
	}
	return out
}

// configWarnings says, for validate, what each stage's config has that
// works but is unsafe: a decoded config with a Warnings() map[string]string
// method (key -> message) names it.
func (a *app) configWarnings(p *config.Pipeline) []string {
	var out []string
	for i := range p.Stages {
		st := &p.Stages[i]
		spec, ok := a.reg.Lookup(st.Function)
		if !ok {
			continue
		}
		var cfg any
		var err error
		switch {
		case len(st.Inputs) == 0 && spec.Source != nil:
			cfg, err = plugin.DecodeConfig(spec.Source, st)
		case len(st.Inputs) > 0 && spec.Sink != nil:
			cfg, err = plugin.DecodeConfig(spec.Sink, st)
		default:
			continue
		}
		w, ok := cfg.(interface{ Warnings() map[string]string })
		if err != nil || !ok {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(w.Warnings())) {
			e := &config.Error{Pos: st.Config[key].Pos, Stage: st.Index, StageID: st.ID, Key: "config." + key, Msg: "warning: " + w.Warnings()[key]}
			if e.Pos.File == "" {
				e.Pos.File = p.File
			}
			out = append(out, e.Error())
		}
	}
	return out
}
