package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Load reads and parses the pipeline file at path. See [Parse].
func Load(path string) (*Pipeline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a pipeline document; name is used in error positions (the
// file it came from, or any label). Environment references are expanded
// with os.LookupEnv.
//
// On problems Parse returns [Errors] listing all of them, together with the
// Pipeline it could build (nil only when the document is not valid TOML), so
// that a caller can go on to check stage configs and report everything at
// once.
func Parse(name string, data []byte) (*Pipeline, error) {
	return ParseWithEnv(name, data, os.LookupEnv)
}

// ParseWithEnv is [Parse] with the environment given as a lookup function.
func ParseWithEnv(name string, data []byte, env func(string) (string, bool)) (*Pipeline, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	l := &loader{file: name, pos: indexPositions(name, data), env: env, bad: map[string]bool{}}
	p := l.pipeline(doc)
	l.errs = append(l.errs, checkGraph(p)...)
	return p, l.errs.Err()
}

func syntaxError(file string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		switch {
		case strings.HasSuffix(msg, "at start of value"):
			msg += ` (text must be quoted, as in topic = "events")`
		case strings.HasSuffix(msg, "cannot have new lines"):
			msg += " (is a closing quote missing?)"
		case msg == "table config already exists":
			msg += " (each [[stages]] has one [stages.config]: is a [[stages]] header missing or misspelled above it?)"
		}
		return Errors{{Kind: Syntax, Pos: Pos{File: file, Line: row, Col: col}, Stage: -1, Msg: "invalid TOML: " + msg}}
	}
	return Errors{{Kind: Syntax, Pos: Pos{File: file}, Stage: -1, Msg: "invalid TOML: " + err.Error()}}
}

type loader struct {
	file string
	pos  positions
	env  func(string) (string, bool)
	vars map[string]string
	errs Errors
	// bad holds the paths whose references could not be expanded: each is
	// reported once, and decoding leaves its key alone.
	bad map[string]bool
}

// at returns the position of a document path.
func (l *loader) at(path string) Pos {
	p := l.pos.near(path)
	p.File = l.file
	return p
}

func (l *loader) fail(kind Kind, path string, stage int, stageID, key, format string, args ...any) {
	l.errs = append(l.errs, &Error{Kind: kind, Pos: l.at(path), Stage: stage, StageID: stageID, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var topKeys = []string{"pipeline", "global", "stages", "error_handling"}

func (l *loader) pipeline(doc map[string]any) *Pipeline {
	p := &Pipeline{File: l.file, Pipeline: DefaultMeta(), Global: DefaultGlobal(), ErrorHandling: DefaultErrorHandling()}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !slices.Contains(topKeys, k) {
			l.fail(UnknownKey, k, -1, "", k, "unknown table%s", suggestion(k, topKeys))
		}
	}
	// [global] first: its variables are used everywhere else.
	if t, ok := l.table(doc, "global"); ok {
		l.global(t, &p.Global)
	}
	if t, ok := l.table(doc, "pipeline"); ok {
		l.decode("pipeline", t, &p.Pipeline)
		p.Pipeline.GuaranteePos = l.at("pipeline.guarantee")
	}
	if raw, ok := doc["stages"]; ok {
		list, isList := raw.([]any)
		if !isList {
			l.fail(BadType, "stages", -1, "", "stages", "must be an array of tables ([[stages]]), got %s", typeName(raw))
		}
		for i, s := range list {
			t, ok := s.(map[string]any)
			if !ok {
				l.fail(BadType, fmt.Sprintf("stages[%d]", i), i, "", "", "must be a table, got %s", typeName(s))
				continue
			}
			p.Stages = append(p.Stages, l.stage(i, t))
		}
	}
	if t, ok := l.table(doc, "error_handling"); ok {
		l.decode("error_handling", t, &p.ErrorHandling)
	}
	return p
}

// table returns doc[name] as a table, reporting a non-table value.
func (l *loader) table(doc map[string]any, name string) (map[string]any, bool) {
	raw, ok := doc[name]
	if !ok {
		return nil, false
	}
	t, ok := raw.(map[string]any)
	if !ok {
		l.fail(BadType, name, -1, "", name, "must be a table, got %s", typeName(raw))
	}
	return t, ok
}

// global decodes [global], its variables first: with only ${VAR} expanded
// in them, they are what {{name}} means in every other value.
func (l *loader) global(t map[string]any, g *Global) {
	vt, ok := t["variables"].(map[string]any)
	if ok {
		vars := make(map[string]any, len(vt))
		l.vars = map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(vt)) {
			path := "global.variables." + k
			if isRunVar(k) {
				l.fail(BadValue, path, -1, "", path, "%s is reserved: {{%s}} is filled in when a run starts", k, k)
			}
			vars[k] = l.expandEnv(vt[k], path, -1, "")
			l.vars[k] = scalarText(vars[k])
		}
		t = maps.Clone(t)
		t["variables"] = vars
	}
	l.decode("global", t, g, "variables")
	g.PluginsPos = l.at("global.plugins")
	if g.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(g.HTTPAddr); err != nil {
			l.fail(BadValue, "global.http_addr", -1, "", "global.http_addr", "want host:port (e.g. \"127.0.0.1:9464\"), got %q", g.HTTPAddr)
		}
	}
}

// decode fills dst, the type of the table at name, from t with the tag
// machinery of stage configs. References are expanded in the values of
// known keys except those in expanded.
func (l *loader) decode(name string, t map[string]any, dst any, expanded ...string) {
	known := map[string]bool{}
	for _, f := range keyFields(reflect.TypeOf(dst).Elem()) {
		known[f.Key] = true
	}
	loc := &locator{file: l.file, idx: l.pos, base: name, bad: l.bad}
	values := make(map[string]Value, len(t))
	for k, v := range t {
		kp := name + "." + k
		val := Value{V: v, Pos: l.at(kp)}
		if known[k] && !slices.Contains(expanded, k) {
			val.V = l.expand(v, kp, -1, "")
			val.reported = loc.reported(k)
		}
		values[k] = val
	}
	l.errs = append(l.errs, decodeTable(target{values: values, pos: l.at(name), stage: -1, prefix: name + ".", loc: loc}, dst)...)
}

var stageKeys = []string{"id", "function", "inputs", "config"}

func (l *loader) stage(i int, t map[string]any) Stage {
	path := fmt.Sprintf("stages[%d]", i)
	st := Stage{Index: i, Pos: l.at(path), Config: map[string]Value{},
		loc: &locator{file: l.file, idx: l.pos, base: path + ".config", bad: l.bad}}
	st.ID = l.str(t, path, "id", i, "")
	if _, ok := t["id"]; !ok {
		l.fail(Missing, path, i, "", "id", "missing required key")
	}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if !slices.Contains(stageKeys, k) {
			hint := suggestion(k, stageKeys)
			if hint == "" {
				hint = " (a stage has id, function, inputs and config: the function's settings go in [stages.config])"
			}
			l.fail(UnknownKey, path+"."+k, i, st.ID, k, "unknown key%s", hint)
		}
	}
	st.Function = l.str(t, path, "function", i, st.ID)
	if _, ok := t["function"]; !ok {
		l.fail(Missing, path, i, st.ID, "function", "missing required key")
	}
	st.FunctionPos = l.at(path + ".function")
	st.Inputs = l.strList(t, path, "inputs", i, st.ID)
	st.InputsPos = l.at(path + ".inputs")
	if raw, ok := t["config"]; ok {
		ct, isTable := raw.(map[string]any)
		if !isTable {
			l.fail(BadType, path+".config", i, st.ID, "config", "must be a table ([stages.config]), got %s", typeName(raw))
		}
		for k, v := range ct {
			kp := path + ".config." + k
			v = l.expandConfig(v, kp, i, st.ID)
			st.Config[k] = Value{V: v, Pos: l.at(kp), reported: st.loc.reported(k)}
		}
	}
	return st
}

// str reads an optional string key, expanding references.
func (l *loader) str(t map[string]any, path, key string, stage int, stageID string) string {
	raw, ok := t[key]
	if !ok {
		return ""
	}
	kp := path + "." + key
	v := l.expand(raw, kp, stage, stageID)
	s, ok := v.(string)
	if !ok {
		l.fail(BadType, kp, stage, stageID, keyName(stage, kp, key), "want a string, got %s", describe(raw))
	}
	return s
}

// strList reads an optional list of strings; a single string is a list of one.
func (l *loader) strList(t map[string]any, path, key string, stage int, stageID string) []string {
	raw, ok := t[key]
	if !ok {
		return nil
	}
	kp := path + "." + key
	switch v := l.expand(raw, kp, stage, stageID).(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				l.fail(BadType, fmt.Sprintf("%s[%d]", kp, i), stage, stageID, keyName(stage, kp, key), "want a list of strings, element %d is %s", i, describe(x))
				continue
			}
			out = append(out, s)
		}
		return out
	default:
		l.fail(BadType, kp, stage, stageID, keyName(stage, kp, key), "want a list of strings, got %s", describe(raw))
		return nil
	}
}

func keyName(stage int, path, key string) string {
	if stage >= 0 {
		return key
	}
	return path
}

// TypeName names the TOML type of a decoded value for messages: "a
// string", "an integer", "a table", ...
func TypeName(v any) string { return typeName(v) }

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	case time.Time:
		return "a date-time"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// describe names a value's type and, for scalars, its text.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int64, float64, bool:
		return fmt.Sprintf("%s %v", typeName(v), x)
	default:
		return typeName(v)
	}
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}
