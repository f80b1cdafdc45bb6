package operators

import (
	"context"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/plugin"
)

// FieldsConfig is the config of "fields.select" and "fields.drop".
type FieldsConfig struct {
	Fields []string `key:"fields" required:"true" doc:"field names; a.b is a nested field; for fields.drop a trailing * matches a prefix (\"_kafka_*\")"`

	prefixes bool // fields.drop: a trailing * allowed
}

// Validate checks the names.
func (c *FieldsConfig) Validate() error {
	var errs []error
	if len(c.Fields) == 0 {
		errs = append(errs, config.Invalid("fields", "name at least one field"))
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		star := strings.Index(f, "*")
		name := strings.TrimSuffix(strings.TrimSuffix(f, "*"), ".") // "a.*" is everything inside a
		switch {
		case star >= 0 && !c.prefixes:
			errs = append(errs, config.Invalid("fields", "element %d (%q): * is for fields.drop only", i, f))
		case star >= 0 && star != len(f)-1:
			errs = append(errs, config.Invalid("fields", "element %d (%q): * may only end the name, as in \"_kafka_*\"", i, f))
		case f != "*" && !isFieldName(name):
			errs = append(errs, config.Invalid("fields", "element %d (%q) is not a field name (a or a.b)", i, f))
		case seen[f]:
			errs = append(errs, config.Invalid("fields", "element %d (%q) is listed twice", i, f))
		}
		seen[f] = true
	}
	if !c.prefixes {
		for _, f := range c.Fields {
			for _, g := range c.Fields {
				if strings.HasPrefix(g, f+".") {
					errs = append(errs, config.Invalid("fields", "%q is inside %q, which is selected whole", g, f))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// isFieldName reports whether n names a field: a, or a dotted path a.b
// of non-empty names, without *.
func isFieldName(n string) bool {
	return strings.TrimSpace(n) != "" && !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".") &&
		!strings.Contains(n, "..") && !strings.Contains(n, "*")
}

// FieldsDropSpec is the "fields.drop" function.
func FieldsDropSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "fields.drop",
		Plugin:  "fields",
		Summary: "remove fields from each record (a trailing * matches a prefix: \"_kafka_*\")",
		Doc: "A name a.b removes b inside the object a. Fields a record lacks are no error. A record that has none of\n" +
			"the fields goes on byte for byte as it came; the others keep their other members in order, as written.\n",
		Operator: plugin.NewFactory(func() *FieldsConfig { return &FieldsConfig{prefixes: true} },
			func(_ context.Context, c *FieldsConfig, _ plugin.Env) (plugin.Operator, error) {
				return NewFieldsDrop(c)
			}),
	}
}

// FieldsDrop removes fields.
type FieldsDrop struct{ patterns []fieldPattern }

// NewFieldsDrop prepares fields.drop.
func NewFieldsDrop(c *FieldsConfig) (*FieldsDrop, error) {
	c.prefixes = true
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &FieldsDrop{patterns: compilePatterns(c.Fields)}, nil
}

// Apply removes the fields from each record.
func (d *FieldsDrop) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	a := newArena(in, 0)
	for _, r := range in {
		start := len(a.buf)
		var changed bool
		a.buf, changed = appendDropped(a.buf, r.Value, d.patterns)
		out = a.appendRecord(out, r, start, changed)
	}
	a.place(out)
	return out
}

// FieldsSelectSpec is the "fields.select" function.
func FieldsSelectSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "fields.select",
		Plugin:  "fields",
		Summary: "keep only the named fields of each record (a.b builds nested objects)",
		Doc: "The fields come out in the order listed, a.b inside an object a (\"address.country\" gives\n" +
			"{\"address\":{\"country\":...}}). A field a record lacks is left out, and counted: the stage summary\n" +
			"says how many records lacked one, and warns when every record did (a misspelt name). A record with\n" +
			"none of the fields becomes {}.\n",
		Operator: plugin.NewFactory(func() *FieldsConfig { return &FieldsConfig{} },
			func(_ context.Context, c *FieldsConfig, _ plugin.Env) (plugin.Operator, error) {
				return NewFieldsSelect(c)
			}),
	}
}

// FieldsSelect keeps only some fields.
type FieldsSelect struct {
	fields []string
	tree   []selectNode
	counts matchCounts
}

// selectNode is a selected name, with the names below it for a parent of
// dotted names.
type selectNode struct {
	name string
	path record.Path // for a leaf, from the record's top
	sub  []selectNode
}

// NewFieldsSelect prepares fields.select.
func NewFieldsSelect(c *FieldsConfig) (*FieldsSelect, error) {
	c.prefixes = false
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &FieldsSelect{fields: c.Fields}
	for _, f := range c.Fields {
		s.tree = addSelect(s.tree, strings.Split(f, "."), f)
	}
	return s, nil
}

func addSelect(ns []selectNode, parts []string, full string) []selectNode {
	for i := range ns {
		if ns[i].name == parts[0] && len(parts) > 1 {
			ns[i].sub = addSelect(ns[i].sub, parts[1:], full)
			return ns
		}
	}
	n := selectNode{name: parts[0]}
	if len(parts) > 1 {
		n.sub = addSelect(nil, parts[1:], full)
	} else {
		n.path = record.CompilePath(full)
	}
	return append(ns, n)
}

// Apply rebuilds each record from the selected fields.
func (s *FieldsSelect) Apply(in, out []plugin.Record, _ func(int, error)) []plugin.Record {
	a := newArena(in, 0)
	var missing int64
	for _, r := range in {
		start := len(a.buf)
		var lacked bool
		a.buf = append(a.buf, '{')
		a.buf, lacked = appendSelected(a.buf, r.Value, s.tree)
		a.buf = append(a.buf, '}')
		if lacked {
			missing++
		}
		out = a.appendRecord(out, r, start, true)
	}
	a.place(out)
	s.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(in)), Missing: missing})
	return out
}

// appendSelected appends the members of ns that rec has (after dst's
// open brace), and reports whether it lacked any.
func appendSelected(dst, rec []byte, ns []selectNode) ([]byte, bool) {
	lacked := false
	for i := range ns {
		n := &ns[i]
		if n.sub == nil {
			v, ok := n.path.Raw(rec)
			if !ok {
				lacked = true
				continue
			}
			dst = appendName(dst, n.name)
			dst = append(dst, v...)
			continue
		}
		mark := len(dst)
		dst = appendName(dst, n.name)
		open := len(dst)
		dst = append(dst, '{')
		var l bool
		dst, l = appendSelected(dst, rec, n.sub)
		lacked = lacked || l
		if len(dst) == open+1 { // none of them: no empty object
			dst = dst[:mark]
			continue
		}
		dst = append(dst, '}')
	}
	return dst, lacked
}

// Stats returns the counts: Missing is the records that lacked a field.
func (s *FieldsSelect) Stats() FilterStats { return s.counts.Stats() }

// Report implements plugin.Reporter: a warning when every record lacked a
// selected field.
func (s *FieldsSelect) Report(log *zap.Logger, final bool) {
	s.counts.report(log, final, "fields.select", []zap.Field{zap.Strings("fields", s.fields)},
		"fields.select: every record lacked one of the fields; check the names (a.b reads a nested field)", "")
}

// FieldsRenameConfig is the config of "fields.rename".
type FieldsRenameConfig struct {
	Rename config.Pairs `key:"rename" required:"true" doc:"old name = new name, applied in the order written; a.b is a nested field (\"address.country\" = \"country\" moves it to the top)"`
}

// Validate checks the names.
func (c *FieldsRenameConfig) Validate() error {
	var errs []error
	if len(c.Rename) == 0 {
		errs = append(errs, config.Invalid("rename", "name at least one field to rename"))
	}
	for _, p := range c.Rename {
		for _, n := range []string{p.Key, p.Value} {
			if !isFieldName(n) {
				errs = append(errs, config.Invalid("rename", "%s = %q: %q is not a field name (a or a.b)", p.Key, p.Value, n))
			}
		}
		if p.Key == p.Value {
			errs = append(errs, config.Invalid("rename", "%s = %q renames a field to itself", p.Key, p.Value))
		}
	}
	return errors.Join(errs...)
}

// FieldsRenameSpec is the "fields.rename" function.
func FieldsRenameSpec() *plugin.Spec {
	return &plugin.Spec{
		Name:    "fields.rename",
		Plugin:  "fields",
		Summary: "rename fields of each record, such as { user_id = \"uid\" }",
		Doc: "Renames apply in the order written, each to the result of the one before. A top-level field renamed to a\n" +
			"top-level name keeps its place; a field moved into or out of an object goes to the end of its new object.\n" +
			"A field already named like the new name is replaced by the renamed one. A record that lacks the old name\n" +
			"is left as it is for that rename (counted: the summary says how many lacked one).\n",
		Operator: plugin.NewFactory(func() *FieldsRenameConfig { return &FieldsRenameConfig{} },
			func(_ context.Context, c *FieldsRenameConfig, _ plugin.Env) (plugin.Operator, error) {
				return NewFieldsRename(c)
			}),
	}
}

// FieldsRename renames fields.
type FieldsRename struct {
	renames []rename
	counts  matchCounts
}

type rename struct {
	from, to      string
	fromPath      record.Path
	fromPatterns  []fieldPattern
	toParts       []string
	bothTopLevels bool
}

// NewFieldsRename prepares fields.rename.
func NewFieldsRename(c *FieldsRenameConfig) (*FieldsRename, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := &FieldsRename{}
	for _, p := range c.Rename {
		r.renames = append(r.renames, rename{from: p.Key, to: p.Value, fromPath: record.CompilePath(p.Key),
			fromPatterns: compilePatterns([]string{p.Key}), toParts: strings.Split(p.Value, "."),
			bothTopLevels: !strings.Contains(p.Key, ".") && !strings.Contains(p.Value, ".")})
	}
	return r, nil
}

// Apply renames the fields of each record.
func (rn *FieldsRename) Apply(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
	a := newArena(in, 0)
	var scratch [2][]byte // one holds the record so far, the other the next
	var missing int64
	for i, r := range in {
		if !isObject(r.Value) {
			fail(i, errNotObject)
			continue
		}
		cur, changed, lacked, w := r.Value, false, false, 0
		for k := range rn.renames {
			next, ok := rn.renames[k].apply(scratch[w][:0], cur)
			if !ok {
				lacked = true
				continue
			}
			scratch[w] = next
			cur, changed, w = next, true, 1-w
		}
		if lacked {
			missing++
		}
		start := len(a.buf)
		if changed {
			a.buf = append(a.buf, cur...)
		}
		out = a.appendRecord(out, r, start, changed)
	}
	a.place(out)
	rn.counts.add(FilterStats{Seen: int64(len(in)), Passed: int64(len(in)), Missing: missing})
	return out
}

// apply appends rec with the rename made to dst; ok is false when rec
// lacks the old name (dst is then unused).
func (r *rename) apply(dst, rec []byte) ([]byte, bool) {
	value, ok := r.fromPath.Raw(rec)
	if !ok {
		return dst, false
	}
	if r.bothTopLevels { // in place
		dst = append(dst, '{')
		record.Members(rec, func(name string, key, v []byte) bool {
			switch name {
			case r.to:
			case r.from:
				dst = appendName(dst, r.to)
				dst = append(dst, v...)
			default:
				dst = appendKey(dst, key)
				dst = append(dst, v...)
			}
			return true
		})
		return append(dst, '}'), true
	}
	tmp, _ := appendDropped(nil, rec, r.fromPatterns) // value stays in rec, which is not written
	return appendSet(dst, tmp, r.toParts, value)
}

// Stats returns the counts: Missing is the records that lacked an old name.
func (rn *FieldsRename) Stats() FilterStats { return rn.counts.Stats() }
