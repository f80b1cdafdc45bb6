package config

import (
	"fmt"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions maps the path of every table and key in a document
// ("stages[1].config.topic") to where it was written.
type positions map[string]Pos

// indexPositions walks the document's expressions. It assumes the document
// parses; on a syntax error it returns what it indexed so far.
func indexPositions(file string, data []byte) positions {
	idx := positions{}
	arrays := map[string]int{} // resolved path of an array of tables -> entries so far
	var p unstable.Parser
	p.Reset(data)
	prefix := ""
	at := func(n *unstable.Node) Pos {
		sh := p.Shape(n.Raw)
		return Pos{File: file, Line: sh.Start.Line, Col: sh.Start.Column}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, first := keyParts(e)
			path := resolve(arrays, "", parts[:len(parts)-1])
			path = join(path, parts[len(parts)-1])
			pos := at(first)
			pos.Col = 1
			if e.Kind == unstable.ArrayTable {
				if _, ok := idx[path]; !ok {
					idx[path] = pos // the array itself is where its first entry is
				}
				arrays[path]++
				path = fmt.Sprintf("%s[%d]", path, arrays[path]-1)
			} else if n, ok := arrays[path]; ok {
				path = fmt.Sprintf("%s[%d]", path, n-1)
			}
			idx[path] = pos
			prefix = path
		case unstable.KeyValue:
			indexKeyValue(idx, arrays, prefix, e, at)
		}
	}
	return idx
}

func indexKeyValue(idx positions, arrays map[string]int, prefix string, kv *unstable.Node, at func(*unstable.Node) Pos) {
	parts, first := keyParts(kv)
	path := resolve(arrays, prefix, parts)
	idx[path] = at(first)
	indexValue(idx, arrays, path, kv.Value(), at)
}

func indexValue(idx positions, arrays map[string]int, path string, v *unstable.Node, at func(*unstable.Node) Pos) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			indexKeyValue(idx, arrays, path, it.Node(), at)
		}
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			el := fmt.Sprintf("%s[%d]", path, i)
			if n := it.Node(); n.Raw.Length > 0 {
				idx[el] = at(n)
			}
			indexValue(idx, arrays, el, it.Node(), at)
		}
	}
}

// keyParts returns the parts of a (possibly dotted) key and its first node.
func keyParts(n *unstable.Node) ([]string, *unstable.Node) {
	var parts []string
	var first *unstable.Node
	it := n.Key()
	for it.Next() {
		if first == nil {
			first = it.Node()
		}
		parts = append(parts, string(it.Node().Data))
	}
	return parts, first
}

// resolve appends parts to prefix, stepping into the newest entry of every
// array of tables on the way.
func resolve(arrays map[string]int, prefix string, parts []string) string {
	path := prefix
	for _, part := range parts {
		path = join(path, part)
		if n, ok := arrays[path]; ok {
			path = fmt.Sprintf("%s[%d]", path, n-1)
		}
	}
	return path
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// near returns the position of path, or of its closest indexed parent.
func (idx positions) near(path string) Pos {
	for path != "" {
		if p, ok := idx[path]; ok {
			return p
		}
		cut := -1
		for i := len(path) - 1; i >= 0; i-- {
			if path[i] == '.' || path[i] == '[' {
				cut = i
				break
			}
		}
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return Pos{}
}
