package config

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Pair is one key and value of a table decoded into [Pairs].
type Pair struct {
	Key, Value string
	// Pos is where the key was written (zero for a config built in code).
	Pos Pos
}

// Pairs is a config field type: a table of strings (numbers and booleans
// taken as text, as for map[string]string) in the order the file wrote its
// keys, for keys whose entries depend on one another (fields.set). A table
// built in code, with no positions, is in key order.
type Pairs []Pair

// Get returns the value of key.
func (ps Pairs) Get(key string) (string, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// pairs decodes the table v of key into Pairs in file order.
func (d *decoder) pairs(key string, v any) (Pairs, *valueError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &valueError{kind: BadType, msg: fmt.Sprintf("must be a table, got %s", typeName(v))}
	}
	out := make(Pairs, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch e := m[k]; e.(type) {
		case string, int64, float64, bool:
			out = append(out, Pair{Key: k, Value: scalarText(e), Pos: d.at(key, "."+k)})
		default:
			return nil, &valueError{kind: BadType, msg: fmt.Sprintf("want a table of strings, numbers and booleans; %s is %s", k, typeName(e)), sub: "." + k}
		}
	}
	slices.SortStableFunc(out, func(a, b Pair) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	return out, nil
}
