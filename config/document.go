package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// DecodeDocument parses the TOML document data (file names it in errors)
// into dst, a pointer to a struct whose fields carry the tags of
// [DecodeStage], for files other than pipelines that want the same errors
// (`conveyor test`'s test files). Beyond DecodeStage's field types:
//
//   - a struct field with a `key` tag is a table, decoded the same way;
//   - a slice of structs with a `key` tag is an array of tables
//     ([[tests]], or an inline array of inline tables);
//   - an untagged field of type [Pos] receives where its table is, and
//     one of type map[string]Pos where each key of the table is;
//   - a struct with a method SetDefaults() (on its pointer) has it called
//     before its table is decoded: how entries of an array of tables get
//     their defaults.
//
// References (${VAR}, {{name}}) are not expanded. Every problem is
// reported, as [Errors] with file:line:col and the key's path
// ("tests[1].input[0].partition"); a struct's Validate runs as in
// DecodeStage, after its nested tables are decoded.
func DecodeDocument(file string, data []byte, dst any) error {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return syntaxError(file, err)
	}
	d := &docDecoder{file: file, idx: indexPositions(file, data)}
	d.table("", doc, reflect.ValueOf(dst).Elem(), nil)
	return d.errs.Err()
}

// docDecoder decodes a document's nested tables.
type docDecoder struct {
	file string
	idx  positions
	errs Errors
}

func (d *docDecoder) at(path string) Pos {
	p := d.idx.near(path)
	p.File = d.file
	return p
}

// table fills rv, a struct, from the table t written at path ("" for the
// document itself).
// above holds the keys of the table path is in, for a hint on a key
// written under the wrong header.
func (d *docDecoder) table(path string, t map[string]any, rv reflect.Value, above []string) {
	if s, ok := rv.Addr().Interface().(interface{ SetDefaults() }); ok {
		s.SetDefaults()
	}
	values := make(map[string]Value, len(t))
	nested := map[string]keyField{}
	var keys []string
	for _, f := range keyFields(rv.Type()) {
		keys = append(keys, f.Key)
		if isTableType(f.typ) {
			nested[f.Key] = f
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		f, ok := nested[k]
		if !ok {
			values[k] = Value{V: t[k], Pos: d.at(join(path, k))}
			continue
		}
		d.nested(join(path, k), t[k], rv.FieldByIndex(f.index), keys)
		values[k] = Value{decoded: true} // present, and left alone
	}
	for i := 0; i < rv.NumField(); i++ {
		sf := rv.Type().Field(i)
		switch {
		case sf.Tag.Get("key") != "" || !sf.IsExported():
		case sf.Type == posType:
			rv.Field(i).Set(reflect.ValueOf(d.at(path)))
		case sf.Type == keyPosType:
			at := make(map[string]Pos, len(t))
			for k := range t {
				at[k] = d.at(join(path, k))
			}
			rv.Field(i).Set(reflect.ValueOf(at))
		}
	}
	tg := target{values: values, pos: d.at(path), stage: -1}
	if path != "" {
		tg.prefix = path + "."
		tg.loc = &locator{file: d.file, idx: d.idx, base: path, bad: map[string]bool{}}
	}
	if tg.pos.Line == 0 {
		tg.pos.Line, tg.pos.Col = 1, 1 // the document: its first line
	}
	errs := decodeTable(tg, rv.Addr().Interface())
	for _, e := range errs {
		if k := strings.TrimPrefix(e.Key, tg.prefix); e.Kind == UnknownKey && slices.Contains(above, k) && path != "" {
			parent := "the top of the file"
			if i := strings.LastIndexByte(path, '.'); i > 0 {
				parent = "[" + withoutIndexes(path[:i]) + "]"
				if strings.HasSuffix(path[:i], "]") {
					parent = "[" + parent + "]"
				}
			}
			e.Msg += fmt.Sprintf(" here (%s is a key of %s: in TOML a key belongs to the last [header] above it, so write it before the first [[%s]])", k, parent, withoutIndexes(path))
		}
	}
	d.errs = append(d.errs, errs...)
}

// nested decodes the value v of a table or array-of-tables field.
func (d *docDecoder) nested(path string, v any, fv reflect.Value, above []string) {
	if fv.Kind() == reflect.Struct {
		t, ok := v.(map[string]any)
		if !ok {
			d.fail(path, "must be a table, got %s", typeName(v))
			return
		}
		d.table(path, t, fv, above)
		return
	}
	list, ok := v.([]any)
	if !ok {
		if _, isTable := v.(map[string]any); isTable {
			d.fail(path, "must be an array of tables: write [[%s]], not [%s]", tableName(path), tableName(path))
			return
		}
		d.fail(path, "must be an array of tables ([[%s]]), got %s", tableName(path), typeName(v))
		return
	}
	out := reflect.MakeSlice(fv.Type(), len(list), len(list))
	for i, e := range list {
		el := fmt.Sprintf("%s[%d]", path, i)
		t, ok := e.(map[string]any)
		if !ok {
			d.fail(el, "must be a table, got %s", typeName(e))
			continue
		}
		d.table(el, t, out.Index(i), above)
	}
	fv.Set(out)
}

func (d *docDecoder) fail(path, format string, args ...any) {
	d.errs = append(d.errs, &Error{Kind: BadType, Pos: d.at(path), Stage: -1, Key: path, Msg: fmt.Sprintf(format, args...)})
}

// tableName is the last key of path, as [[name]] writes it.
func tableName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[i+1:]
		}
	}
	return path
}

var (
	posType    = reflect.TypeOf(Pos{})
	keyPosType = reflect.TypeOf(map[string]Pos(nil))
)

// isTableType reports whether a tagged field of type t is a table (a
// struct) or an array of tables (a slice of structs) of DecodeDocument.
func isTableType(t reflect.Type) bool {
	switch {
	case t == deadLetterType || t == posType || t == durationType || t == pairsType:
		return false
	case t.Kind() == reflect.Struct:
		return true
	case t.Kind() == reflect.Slice:
		return t.Elem().Kind() == reflect.Struct
	}
	return false
}

// withoutIndexes is path without its array indexes: "tests.input" for
// "tests[0].input[2]", as a [[header]] names it.
func withoutIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, c := range path {
		switch {
		case c == '[':
			skip = true
		case c == ']':
			skip = false
		case !skip:
			b.WriteRune(c)
		}
	}
	return b.String()
}
