package config

import (
	"reflect"
)

// isSubTable reports whether a tagged field of type t is a sub-table of a
// stage config: a struct, written as an inline table (key = { a = 1 }) or
// as a [stages.config.key] table, which TOML makes the same thing. Its
// fields carry the same tags as the config's, and decode the same way.
func isSubTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != posType
}

// subTable decodes v, the value of the sub-table field f, into fv: its
// keys are checked as the config's are (unknown ones with a did-you-mean,
// types, bounds, secrets), reported in errors as "key.sub" at the position
// where each was written, and its Validate runs when it has one. A key
// inside whose reference was reported keeps its default, silently.
func (d *decoder) subTable(f keyField, v Value, fv reflect.Value) {
	t, ok := v.V.(map[string]any)
	if !ok {
		if !v.reported {
			d.fail(BadType, v.Pos, f.Key, "must be a table (%s = { ... }), got %s", f.Key, typeName(v.V))
		}
		return
	}
	sub := d.target
	sub.pos = v.Pos
	sub.prefix = d.prefix + f.Key + "."
	sub.values = make(map[string]Value, len(t))
	if d.loc != nil {
		loc := *d.loc
		loc.base += "." + f.Key
		sub.loc = &loc
	}
	for k, e := range t {
		sub.values[k] = Value{V: e, Pos: d.at(f.Key, "."+k), reported: sub.loc != nil && sub.loc.reported(k)}
	}
	d.errs = append(d.errs, decodeTable(sub, fv.Addr().Interface())...)
}
