package config

import (
	"maps"
	"slices"
	"strings"
)

// The top-level tables besides [[stages]], each decoded from the tags of
// its type (Meta, Global, ErrorHandling) as stage configs are.
var tables = []struct {
	name     string
	defaults func() any
}{
	{"pipeline", func() any { m := DefaultMeta(); return &m }},
	{"global", func() any { g := DefaultGlobal(); return &g }},
	{"error_handling", func() any { eh := DefaultErrorHandling(); return &eh }},
}

// DescribeTable lists the keys of a top-level table ("pipeline", "global",
// "error_handling") with their defaults, from the tags that decode it; false
// for any other name.
func DescribeTable(name string) ([]KeyDoc, bool) {
	for _, t := range tables {
		if t.name == name {
			return Describe(t.defaults()), true
		}
	}
	return nil, false
}

// TableNames are the names DescribeTable knows, in file order.
func TableNames() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}

// locator finds where the parts of a table's values were written, and
// which of them held a reference that could not be expanded.
type locator struct {
	file string
	idx  positions
	base string          // the table's path: "global", "stages[2].config"
	bad  map[string]bool // document paths whose references were reported
}

// at returns the position of rel ("plugins[1]", "dead_letter_queue.topic")
// inside the table, when it was indexed.
func (l *locator) at(rel string) (Pos, bool) {
	p, ok := l.idx[l.base+"."+rel]
	p.File = l.file
	return p, ok
}

// reported tells whether a reference at rel, or inside a list or table
// there, was reported.
func (l *locator) reported(rel string) bool {
	path := l.base + "." + rel
	for b := range l.bad {
		if b == path || strings.HasPrefix(b, path+".") || strings.HasPrefix(b, path+"[") {
			return true
		}
	}
	return false
}

// deadLetter decodes dead_letter_queue: a file path, or a table with path
// or with topic and a kafka sink's keys. It returns nil for neither.
func (d *decoder) deadLetter(key string, v Value) *DeadLetter {
	reported := func(sub string) bool {
		if d.loc == nil {
			return sub == "" && v.reported
		}
		return d.loc.reported(key + sub)
	}
	dl := &DeadLetter{Pos: v.Pos}
	switch x := v.V.(type) {
	case string:
		if reported("") {
			return nil
		}
		dl.Path = x
	case map[string]any:
		str := func(k string) string {
			raw, ok := x[k]
			if !ok || reported("."+k) {
				return ""
			}
			s, ok := raw.(string)
			if !ok {
				d.fail(BadType, d.at(key, "."+k), key+"."+k, "want a string, got %s", describe(raw))
			}
			return s
		}
		dl.Path, dl.Topic = str("path"), str("topic")
		// A key whose reference was reported counts as set, with nothing
		// more said about it.
		pathSet, topicSet := dl.Path != "" || reported(".path"), dl.Topic != "" || reported(".topic")
		switch {
		case pathSet == topicSet:
			if !reported(".path") && !reported(".topic") {
				d.fail(BadValue, v.Pos, key, "set exactly one of path (a JSON Lines file) or topic (a Kafka topic)")
			}
			return nil
		case pathSet:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if k != "path" {
					d.fail(UnknownKey, d.at(key, "."+k), key+"."+k, "unknown key (a dead-letter file takes only path; kafka keys such as brokers go with topic)")
				}
			}
		case dl.Topic != "":
			// The kafka sink's keys, checked when the pipeline is compiled
			// against the registry.
			dl.Config = make(map[string]Value, len(x))
			for k, e := range x {
				dl.Config[k] = Value{V: e, Pos: d.at(key, "."+k), reported: reported("." + k)}
			}
		}
	default:
		if !reported("") {
			d.fail(BadType, v.Pos, key, "want a file path or a table with path or topic, got %s", typeName(v.V))
		}
	}
	if dl.Path == "" && dl.Topic == "" {
		return nil
	}
	return dl
}
