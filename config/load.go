package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
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
	l := &loader{file: name, pos: indexPositions(name, data), env: env}
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
		return Errors{{Pos: Pos{File: file, Line: row, Col: col}, Stage: -1, Msg: "invalid TOML: " + msg}}
	}
	return Errors{{Pos: Pos{File: file}, Stage: -1, Msg: "invalid TOML: " + err.Error()}}
}

type loader struct {
	file string
	pos  positions
	env  func(string) (string, bool)
	vars map[string]string
	errs Errors
}

// at returns the position of a document path.
func (l *loader) at(path string) Pos {
	p := l.pos.near(path)
	p.File = l.file
	return p
}

func (l *loader) fail(path string, stage int, stageID, key, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: l.at(path), Stage: stage, StageID: stageID, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var topKeys = []string{"pipeline", "global", "stages", "error_handling"}

func (l *loader) pipeline(doc map[string]any) *Pipeline {
	p := &Pipeline{File: l.file, ErrorHandling: DefaultErrorHandling()}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !slices.Contains(topKeys, k) {
			l.fail(k, -1, "", k, "unknown table%s", suggestion(k, topKeys))
		}
	}
	// [global] first: its variables are used everywhere else.
	if t, ok := l.table(doc, "global", "global"); ok {
		l.global(t, &p.Global)
	}
	if t, ok := l.table(doc, "pipeline", "pipeline"); ok {
		l.meta(t, &p.Pipeline)
	}
	if raw, ok := doc["stages"]; ok {
		list, isList := raw.([]any)
		if !isList {
			l.fail("stages", -1, "", "stages", "must be an array of tables ([[stages]]), got %s", typeName(raw))
		}
		for i, s := range list {
			t, ok := s.(map[string]any)
			if !ok {
				l.fail(fmt.Sprintf("stages[%d]", i), i, "", "", "must be a table, got %s", typeName(s))
				continue
			}
			p.Stages = append(p.Stages, l.stage(i, t))
		}
	}
	if t, ok := l.table(doc, "error_handling", "error_handling"); ok {
		l.errorHandling(t, &p.ErrorHandling)
	}
	return p
}

// table returns doc[key] as a table, reporting a non-table value.
func (l *loader) table(doc map[string]any, key, path string) (map[string]any, bool) {
	raw, ok := doc[key]
	if !ok {
		return nil, false
	}
	t, ok := raw.(map[string]any)
	if !ok {
		l.fail(path, -1, "", path, "must be a table, got %s", typeName(raw))
	}
	return t, ok
}

func (l *loader) meta(t map[string]any, m *Meta) {
	l.unknownKeys(t, "pipeline", -1, "", []string{"name", "version", "description"})
	m.Name = l.str(t, "pipeline", "name", -1, "")
	m.Version = l.str(t, "pipeline", "version", -1, "")
	m.Description = l.str(t, "pipeline", "description", -1, "")
}

var logLevels = []string{"debug", "info", "warn", "error"}

func (l *loader) global(t map[string]any, g *Global) {
	l.unknownKeys(t, "global", -1, "", []string{"plugins", "log_level", "variables", "max_inflight_mb", "http_addr", "stall_timeout_ms"})
	g.Variables = map[string]string{}
	if vt, ok := l.table(t, "variables", "global.variables"); ok {
		for _, k := range slices.Sorted(maps.Keys(vt)) {
			if isRunVar(k) {
				l.fail("global.variables."+k, -1, "", "global.variables."+k, "%s is reserved: {{%s}} is filled in when a run starts", k, k)
			}
			v := l.expandEnv(vt[k], "global.variables."+k, -1, "")
			g.Variables[k] = scalarText(v)
		}
	}
	l.vars = g.Variables
	g.Plugins = l.strList(t, "global", "plugins", -1, "")
	g.PluginsPos = l.at("global.plugins")
	g.LogLevel = strings.ToLower(l.str(t, "global", "log_level", -1, ""))
	if g.LogLevel != "" && !slices.Contains(logLevels, g.LogLevel) {
		l.fail("global.log_level", -1, "", "global.log_level", "unknown level %q (want one of %s)", g.LogLevel, strings.Join(logLevels, ", "))
	}
	if v, ok := t["max_inflight_mb"]; ok {
		const k = "global.max_inflight_mb"
		before := len(l.errs) // an unset ${VAR} is reported once, not twice
		n, err := toInt(l.expand(v, k, -1, ""))
		if len(l.errs) == before && (err != nil || n < 1 || n > 1<<20) {
			l.fail(k, -1, "", k, "want a whole number of MiB from 1 to %d, got %s", 1<<20, describe(v))
		}
		g.MaxInflightMB = int(n)
	}
	g.HTTPAddr = l.str(t, "global", "http_addr", -1, "")
	if g.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(g.HTTPAddr); err != nil {
			l.fail("global.http_addr", -1, "", "global.http_addr", "want host:port (e.g. \"127.0.0.1:9464\"), got %q", g.HTTPAddr)
		}
	}
	if v, ok := t["stall_timeout_ms"]; ok {
		const k = "global.stall_timeout_ms"
		before := len(l.errs) // an unset ${VAR} is reported once, not twice
		n, err := toInt(l.expand(v, k, -1, ""))
		if len(l.errs) == before && (err != nil || n < 1) {
			l.fail(k, -1, "", k, "want a whole number of milliseconds, at least 1, got %s", describe(v))
		}
		g.StallTimeout = time.Duration(n) * time.Millisecond
	}
}

var stageKeys = []string{"id", "function", "inputs", "config"}

func (l *loader) stage(i int, t map[string]any) Stage {
	path := fmt.Sprintf("stages[%d]", i)
	st := Stage{Index: i, Pos: l.at(path), Config: map[string]Value{}}
	st.ID = l.str(t, path, "id", i, "")
	if _, ok := t["id"]; !ok {
		l.fail(path, i, "", "id", "missing required key")
	}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if !slices.Contains(stageKeys, k) {
			hint := suggestion(k, stageKeys)
			if hint == "" {
				hint = " (a stage has id, function, inputs and config: the function's settings go in [stages.config])"
			}
			l.fail(path+"."+k, i, st.ID, k, "unknown key%s", hint)
		}
	}
	st.Function = l.str(t, path, "function", i, st.ID)
	if _, ok := t["function"]; !ok {
		l.fail(path, i, st.ID, "function", "missing required key")
	}
	st.FunctionPos = l.at(path + ".function")
	st.Inputs = l.strList(t, path, "inputs", i, st.ID)
	st.InputsPos = l.at(path + ".inputs")
	if raw, ok := t["config"]; ok {
		ct, isTable := raw.(map[string]any)
		if !isTable {
			l.fail(path+".config", i, st.ID, "config", "must be a table ([stages.config]), got %s", typeName(raw))
		}
		for k, v := range ct {
			kp := path + ".config." + k
			st.Config[k] = Value{V: l.expandConfig(v, kp, i, st.ID), Pos: l.at(kp)}
		}
	}
	return st
}

func (l *loader) errorHandling(t map[string]any, eh *ErrorHandling) {
	const p = "error_handling"
	l.unknownKeys(t, p, -1, "", []string{"strategy", "max_retries", "retry_delay_seconds", "backoff", "dead_letter_queue"})
	if s := l.str(t, p, "strategy", -1, ""); s != "" {
		eh.Strategy = Strategy(strings.ToLower(s))
		if eh.Strategy != Stop && eh.Strategy != Continue && eh.Strategy != Retry {
			l.fail(p+".strategy", -1, "", p+".strategy", "unknown strategy %q (want stop, continue or retry)", s)
		}
	}
	if v, ok := t["max_retries"]; ok {
		before := len(l.errs) // an unset ${VAR} is reported once, not twice
		n, err := toInt(l.expand(v, p+".max_retries", -1, ""))
		if len(l.errs) == before && (err != nil || n < 0) {
			l.fail(p+".max_retries", -1, "", p+".max_retries", "want a whole number >= 0, got %s", describe(v))
		}
		eh.MaxRetries = int(n)
	}
	if v, ok := t["retry_delay_seconds"]; ok {
		before := len(l.errs)
		f, err := toFloat(l.expand(v, p+".retry_delay_seconds", -1, ""))
		if len(l.errs) == before && (err != nil || f < 0) {
			l.fail(p+".retry_delay_seconds", -1, "", p+".retry_delay_seconds", "want a number of seconds >= 0, got %s", describe(v))
		}
		eh.RetryDelay = time.Duration(f * float64(time.Second))
	}
	if s := l.str(t, p, "backoff", -1, ""); s != "" {
		eh.Backoff = strings.ToLower(s)
		if eh.Backoff != "fixed" && eh.Backoff != "exponential" {
			l.fail(p+".backoff", -1, "", p+".backoff", "unknown backoff %q (want fixed or exponential)", s)
		}
	}
	if v, ok := t["dead_letter_queue"]; ok {
		eh.DeadLetterQueue = l.deadLetter(l.expand(v, p+".dead_letter_queue", -1, ""))
	}
}

func (l *loader) deadLetter(v any) *DeadLetter {
	const p = "error_handling.dead_letter_queue"
	dl := &DeadLetter{Pos: l.at(p)}
	switch x := v.(type) {
	case string:
		dl.Path = x
	case map[string]any:
		dl.Path = l.str(x, p, "path", -1, "")
		dl.Topic = l.str(x, p, "topic", -1, "")
		switch {
		case (dl.Path == "") == (dl.Topic == ""):
			l.fail(p, -1, "", p, "set exactly one of path (a JSON Lines file) or topic (a Kafka topic)")
		case dl.Path != "":
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if k != "path" {
					l.fail(p+"."+k, -1, "", p+"."+k, "unknown key (a dead-letter file takes only path; kafka keys such as brokers go with topic)")
				}
			}
		default:
			// The kafka sink's keys, checked when the pipeline is compiled
			// against the registry.
			dl.Config = map[string]Value{}
			for k, v := range x {
				kp := p + "." + k
				dl.Config[k] = Value{V: l.expand(v, kp, -1, ""), Pos: l.at(kp)}
			}
		}
	default:
		l.fail(p, -1, "", p, "want a file path or a table with path or topic, got %s", typeName(v))
	}
	if dl.Path == "" && dl.Topic == "" {
		return nil
	}
	return dl
}

func (l *loader) unknownKeys(t map[string]any, path string, stage int, stageID string, known []string) {
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if !slices.Contains(known, k) {
			key := k
			if stage < 0 {
				key = path + "." + k
			}
			l.fail(path+"."+k, stage, stageID, key, "unknown key%s", suggestion(k, known))
		}
	}
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
		l.fail(kp, stage, stageID, keyName(stage, kp, key), "want a string, got %s", describe(raw))
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
				l.fail(fmt.Sprintf("%s[%d]", kp, i), stage, stageID, keyName(stage, kp, key), "want a list of strings, element %d is %s", i, describe(x))
				continue
			}
			out = append(out, s)
		}
		return out
	default:
		l.fail(kp, stage, stageID, keyName(stage, kp, key), "want a list of strings, got %s", describe(raw))
		return nil
	}
}

func keyName(stage int, path, key string) string {
	if stage >= 0 {
		return key
	}
	return path
}

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
