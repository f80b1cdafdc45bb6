package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// refs says which references a string may hold besides ${VAR}.
type refs int

const (
	refVars    refs = 1 << iota // {{name}} from [global.variables]
	refRunVars                  // {{run_id}} and {{date}}, left as written
)

// expand replaces ${VAR}, ${VAR:-default} and {{name}} in every string inside
// v. A run-time variable is an error: it would stay as written.
func (l *loader) expand(v any, path string, stage int, stageID string) any {
	return l.walk(v, path, stage, stageID, refVars)
}

// expandConfig is expand for a stage's config, where run-time variables
// are left as written: DecodeStage accepts them only in keys that take
// them.
func (l *loader) expandConfig(v any, path string, stage int, stageID string) any {
	return l.walk(v, path, stage, stageID, refVars|refRunVars)
}

// expandEnv replaces only environment references (used for [global.variables]).
func (l *loader) expandEnv(v any, path string, stage int, stageID string) any {
	return l.walk(v, path, stage, stageID, 0)
}

func (l *loader) walk(v any, path string, stage int, stageID string, vars refs) any {
	switch x := v.(type) {
	case string:
		s, err := interpolate(x, l.env, l.vars, vars)
		if err != nil {
			l.fail(BadReference, path, stage, stageID, lastKey(path, stage), "%v", err)
			l.bad[path] = true
		}
		return s
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = l.walk(e, fmt.Sprintf("%s[%d]", path, i), stage, stageID, vars)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = l.walk(e, path+"."+k, stage, stageID, vars)
		}
		return out
	default:
		return v
	}
}

// lastKey is the key named in errors: relative to the stage for stage keys.
func lastKey(path string, stage int) string {
	if stage < 0 {
		return path
	}
	if i := strings.Index(path, "]."); i >= 0 {
		return path[i+2:]
	}
	return path
}

// interpolate expands references in s. An unset ${VAR} with no default is an
// error; so is an unknown {{name}}, and a run-time variable unless use
// has refRunVars. "$$" stands for a literal "$". Errors never quote s: it
// may be a secret.
func interpolate(s string, env func(string) (string, bool), vars map[string]string, use refs) (string, error) {
	if !strings.Contains(s, "$") && !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("unclosed ${ (write $$ for a literal $)")
			}
			val, err := envRef(s[i+2:i+end], env)
			if err != nil {
				return "", err
			}
			b.WriteString(val)
			i += end + 1
		case use&refVars != 0 && strings.HasPrefix(s[i:], "{{"):
			end := strings.Index(s[i:], "}}")
			if end < 0 {
				return "", errors.New("unclosed {{ (a variable is written {{name}})")
			}
			name := strings.TrimSpace(s[i+2 : i+end])
			if isRunVar(name) {
				if use&refRunVars == 0 {
					return "", runVarMisplaced(name)
				}
				b.WriteString(s[i : i+end+2])
				i += end + 2
				continue
			}
			val, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("unknown variable {{%s}}: define it in [global.variables]%s", name, suggestion(name, mapKeys(vars)))
			}
			b.WriteString(val)
			i += end + 2
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func envRef(ref string, env func(string) (string, bool)) (string, error) {
	name, def, hasDef := strings.Cut(ref, ":-")
	if name == "" {
		return "", errors.New("empty environment variable name in ${}")
	}
	if v, ok := env(name); ok && (v != "" || !hasDef) {
		return v, nil
	}
	if hasDef {
		return def, nil
	}
	return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// toInt accepts an integer, an integral float, or a string holding one.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
	case string:
		s := strings.ReplaceAll(strings.TrimSpace(x), "_", "")
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("want a whole number, got %s", describe(v))
}

// toFloat accepts a number or a string holding one.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("want a number, got %s", describe(v))
}

// toBool accepts a boolean or "true"/"false"/"1"/"0"/"yes"/"no".
func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
	}
	return false, fmt.Errorf("want true or false, got %s", describe(v))
}
