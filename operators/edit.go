package operators

import (
	"strings"

	"github.com/conveyor-etl/conveyor/internal/jsonscan"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Byte-level edits of JSON records, for the fields.* and json.extract
// operators: a record is rebuilt member by member from its own bytes (keys
// and values as written), never decoded.

// arena holds the records one Apply rebuilt, in one buffer for the batch:
// a record's bytes are placed in out when the batch is done, since the
// buffer may move as it grows.
type arena struct {
	buf   []byte
	spans []arenaSpan
}

type arenaSpan struct{ out, start, end int }

// newArena returns an arena sized for a batch like in (plus extra bytes a
// record): one allocation per batch.
func newArena(in []plugin.Record, extra int) arena {
	n := 0
	for i := range in {
		n += len(in[i].Value) + extra
	}
	return arena{buf: make([]byte, 0, n), spans: make([]arenaSpan, 0, len(in))}
}

// keep records that out[i] holds buf[start:] (up to the current end).
func (a *arena) keep(i, start int) { a.spans = append(a.spans, arenaSpan{i, start, len(a.buf)}) }

// place points the records kept at their bytes.
func (a *arena) place(out []plugin.Record) {
	for _, s := range a.spans {
		out[s.out].Value = a.buf[s.start:s.end:s.end]
	}
}

// appendRecord appends r with the value the arena holds from start on, or
// with its own value when unchanged.
func (a *arena) appendRecord(out []plugin.Record, r plugin.Record, start int, changed bool) []plugin.Record {
	if changed {
		a.keep(len(out), start)
	} else {
		a.buf = a.buf[:start]
	}
	return append(out, r)
}

// fieldPattern is a parsed name of fields.drop: a dotted path whose last
// part may end in * (a prefix).
type fieldPattern struct {
	name   string
	prefix bool
	sub    []fieldPattern // the parts below, for a dotted pattern
}

func (p *fieldPattern) matches(name string) bool {
	if p.prefix {
		return strings.HasPrefix(name, p.name)
	}
	return name == p.name
}

// compilePatterns builds the tree of patterns, merging common parents.
func compilePatterns(names []string) []fieldPattern {
	var out []fieldPattern
	for _, n := range names {
		out = addPattern(out, strings.Split(n, "."))
	}
	return out
}

func addPattern(ps []fieldPattern, parts []string) []fieldPattern {
	name, prefix := parts[0], false
	if len(parts) == 1 && strings.HasSuffix(name, "*") {
		name, prefix = strings.TrimSuffix(name, "*"), true
	}
	for i := range ps {
		if ps[i].name == name && ps[i].prefix == prefix && (len(parts) > 1) == (len(ps[i].sub) > 0) {
			if len(parts) > 1 {
				ps[i].sub = addPattern(ps[i].sub, parts[1:])
			}
			return ps
		}
	}
	p := fieldPattern{name: name, prefix: prefix}
	if len(parts) > 1 {
		p.sub = addPattern(nil, parts[1:])
	}
	return append(ps, p)
}

// appendDropped appends obj without the members that ps name, and reports
// whether any was dropped. Not an object: appended as it is. Runs of kept
// members are copied as they are, separators included, in one step each.
func appendDropped(dst, obj []byte, ps []fieldPattern) ([]byte, bool) {
	start := len(dst)
	r := record.NewRuns(dst, obj)
	changed := false
	isObj := record.MemberSpans(obj, func(name string, key, keyEnd, value, end int) bool {
		var sub []fieldPattern
		for i := range ps {
			if ps[i].matches(name) {
				if len(ps[i].sub) == 0 {
					changed = true
					r.Flush()
					return true
				}
				sub = ps[i].sub
			}
		}
		if sub != nil && isObject(obj[value:end]) {
			r.Flush()
			r.Dst = appendKey(r.Dst, obj[key:keyEnd])
			var ch bool
			r.Dst, ch = appendDropped(r.Dst, obj[value:end], sub)
			changed = changed || ch
			return true
		}
		r.Keep(key, end)
		return true
	})
	if !isObj {
		return append(r.Dst[:start], obj...), false
	}
	return r.Close(), changed
}

// appendKey appends a member's key and colon, after a comma unless it is
// the first member.
func appendKey(dst, key []byte) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	return append(dst, ':')
}

// appendName appends a name as a member's key.
func appendName(dst []byte, name string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = record.AppendString(dst, name)
	return append(dst, ':')
}

func isObject(v []byte) bool {
	i := jsonscan.SkipSpace(v, 0)
	return i < len(v) && v[i] == '{'
}

// appendSet appends obj with the member at path (parts) set to value: in
// place when it exists, else added at the end of its object, with the
// objects on the way made when missing (or when what is there is not an
// object). Not an object: ok is false.
func appendSet(dst, obj []byte, parts []string, value []byte) (out []byte, ok bool) {
	start := len(dst)
	dst = append(dst, '{')
	found := false
	isObj := record.Members(obj, func(name string, key, v []byte) bool {
		if name != parts[0] || found {
			dst = appendKey(dst, key)
			dst = append(dst, v...)
			return true
		}
		found = true
		dst = appendKey(dst, key)
		switch {
		case len(parts) == 1:
			dst = append(dst, value...)
		case isObject(v):
			dst, _ = appendSet(dst, v, parts[1:], value)
		default:
			dst = appendNested(dst, parts[1:], value)
		}
		return true
	})
	if !isObj {
		return dst[:start], false
	}
	if !found {
		dst = appendName(dst, parts[0])
		dst = appendNested(dst, parts[1:], value)
	}
	return append(dst, '}'), true
}

// appendNested appends value inside objects named by parts: {"b":{"c":v}}.
func appendNested(dst []byte, parts []string, value []byte) []byte {
	for _, p := range parts {
		dst = append(dst, '{')
		dst = appendName(dst, p)
	}
	dst = append(dst, value...)
	for range parts {
		dst = append(dst, '}')
	}
	return dst
}
