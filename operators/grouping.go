package operators

import (
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/expr"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// grouping is what puts a record in a group for a stateful operator:
// fields (group_by), or an expression (key). A group is the JSON array of
// its values as written ([] when there is neither: one group of all).
type grouping struct {
	names []string
	paths []record.Path
	prog  *expr.Program
}

func newGrouping(fields []string, key string) (*grouping, error) {
	g := &grouping{}
	switch {
	case len(fields) > 0 && key != "":
		return nil, config.Invalid("key", "give group_by or key, not both")
	case key != "":
		p, err := expr.Compile(key)
		if err != nil {
			return nil, config.Invalid("key", "%v", err)
		}
		g.prog, g.names = p, []string{"key"}
	}
	for _, f := range fields {
		if !isFieldName(f) {
			return nil, config.Invalid("group_by", "%q is not a field name (a or a.b)", f)
		}
		g.names = append(g.names, f)
		g.paths = append(g.paths, record.CompilePath(f))
	}
	return g, nil
}

// key returns rec's group. A field that is missing counts as null; an
// expression that gives no value is an error.
func (g *grouping) key(rec []byte) ([]byte, error) {
	return g.appendKey(make([]byte, 0, 32), rec, nil)
}

// appendKey appends rec's group (see key) to dst. vals, when not nil,
// are the group_by fields' values read already (as record.Path.Peek gives
// them), in order.
func (g *grouping) appendKey(dst, rec []byte, vals []gjson.Result) ([]byte, error) {
	out := append(dst, '[')
	if g.prog != nil {
		v, _, err := g.prog.Eval(rec)
		if err == nil && v.Kind() == expr.KindMissing {
			err = fmt.Errorf("the key expression gives no value for this record")
		}
		if err != nil {
			return nil, err
		}
		if out, err = v.AppendJSON(out); err != nil {
			return nil, err
		}
	}
	for i, p := range g.paths {
		if i > 0 {
			out = append(out, ',')
		}
		var r gjson.Result
		if vals != nil {
			r = vals[i]
		} else {
			r = p.Peek(rec)
		}
		if r.Exists() {
			out = append(out, r.Raw...)
		} else {
			out = append(out, "null"...)
		}
	}
	return append(out, ']'), nil
}

// appendFields appends the group's fields, each followed by a comma.
func (g *grouping) appendFields(dst, group []byte) []byte {
	for i, v := range gjson.ParseBytes(group).Array() {
		if i >= len(g.names) {
			break
		}
		dst = record.AppendString(dst, g.names[i])
		dst = append(append(dst, ':'), v.Raw...)
		dst = append(dst, ',')
	}
	return dst
}
