package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validator is implemented by component configs that check themselves after
// decoding. Return [Invalid] errors (joined with errors.Join for several) so
// that each is reported at its key's position.
type Validator interface {
	Validate() error
}

// DecodeStage fills dst, a pointer to a struct whose fields carry `key` tags,
// from st.Config. dst should hold the defaults beforehand. The tags (key,
// required, enum, lower, empty, min, max, why, unit, numeric, secret,
// runvars, doc) and the field types are listed, for the authors of
// functions, in the doc of package
// [github.com/conveyor-etl/conveyor/plugin], under "A function's config".
//
// Unknown keys are errors with a did-you-mean. A key whose value held a
// reference that could not be expanded was reported when the pipeline was
// parsed ([BadReference]): it keeps its default, and nothing more is said
// about it. After decoding, dst's Validate method runs when it has one.
// All problems are returned together as [Errors], each with its [Kind].
func DecodeStage(st *Stage, dst any) error {
	return decodeTable(target{values: st.Config, pos: st.Pos, stage: st.Index, stageID: st.ID, prefix: "config.", loc: st.loc}, dst).Err()
}

// target is a table to decode and where its errors go.
type target struct {
	values map[string]Value
	// pos is where the table is: missing keys and Validate's errors about
	// no key in particular are reported there.
	pos     Pos
	stage   int // the stage the table belongs to, or -1
	stageID string
	prefix  string   // put before keys in errors: "config.", "global."
	loc     *locator // finds the elements of values; nil: a value's Pos
}

type decoder struct {
	target
	errs Errors
}

func (d *decoder) fail(kind Kind, pos Pos, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{Kind: kind, Pos: pos, Stage: d.stage, StageID: d.stageID, Key: d.prefix + key, Msg: fmt.Sprintf(format, args...)})
}

// at is the position of sub ("[1]", ".x") inside key's value, or of the
// key when it is not known.
func (d *decoder) at(key, sub string) Pos {
	if d.loc != nil && sub != "" {
		if p, ok := d.loc.at(key + sub); ok {
			return p
		}
	}
	return d.values[key].Pos
}

// decodeTable fills dst from t.values; see [DecodeStage].
func decodeTable(t target, dst any) Errors {
	d := &decoder{target: t}
	fields := keyFields(reflect.TypeOf(dst).Elem())
	rv := reflect.ValueOf(dst).Elem()
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Key
	}
	for _, k := range sortedValueKeys(t.values) {
		if !slices.Contains(names, k) {
			d.fail(UnknownKey, t.values[k].Pos, k, "unknown key%s", suggestion(k, names))
		}
	}
	for _, f := range fields {
		v, ok := t.values[f.Key]
		switch {
		case !ok:
			if f.Required {
				d.fail(Missing, t.pos, f.Key, "missing required key%s", parens(f.Doc))
			}
		case v.decoded:
			// Its caller decoded it (DecodeDocument's nested tables).
		case isSubTable(f.typ):
			// Reported references are looked at key by key inside it.
			d.subTable(f, v, rv.FieldByIndex(f.index))
		case f.typ == deadLetterType:
			// Reported references are looked at key by key inside it.
			rv.FieldByIndex(f.index).Set(reflect.ValueOf(d.deadLetter(f.Key, v)))
		case v.reported:
			// The reference error says it all; the default stays.
		case f.typ == pairsType:
			ps, err := d.pairs(f.Key, v.V)
			if err != nil {
				d.fail(err.kind, d.at(f.Key, err.sub), f.Key, "%s", err.msg)
				break
			}
			rv.FieldByIndex(f.index).Set(reflect.ValueOf(ps))
		default:
			if err := setField(rv.FieldByIndex(f.index), f, v.V); err != nil {
				pos := v.Pos
				if err.sub != "" {
					pos = d.at(f.Key, err.sub)
				}
				d.fail(err.kind, pos, f.Key, "%s", err.msg)
			}
		}
	}
	if len(d.errs) == 0 {
		d.validate(dst)
	}
	return d.errs
}

// validate runs dst's Validate, leaving out what it says about keys whose
// references were reported: they hold the default, not what was written.
func (d *decoder) validate(dst any) {
	val, ok := dst.(Validator)
	if !ok {
		return
	}
	for _, err := range flatten(val.Validate()) {
		var fe *FieldError
		if !errors.As(err, &fe) {
			d.errs = append(d.errs, &Error{Kind: BadValue, Pos: d.pos, Stage: d.stage, StageID: d.stageID, Key: strings.TrimSuffix(d.prefix, "."), Msg: err.Error()})
			continue
		}
		pos := d.pos
		if v, ok := d.values[fe.Key]; ok {
			if v.reported {
				continue
			}
			pos = v.Pos
		} else if table, sub, ok := strings.Cut(fe.Key, "."); ok && d.values[table].V != nil {
			// A key of a sub-table: "schema_registry.url".
			if d.loc != nil && d.loc.reported(fe.Key) {
				continue
			}
			pos = d.at(table, "."+sub)
		}
		d.fail(BadValue, pos, fe.Key, "%s", fe.Msg)
	}
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// KeyDoc describes one config key of a function or table.
type KeyDoc struct {
	Key      string
	Type     string
	Required bool
	Default  string // the value in the defaults given to Describe, "" for none
	Enum     []string
	// Min and Max are the bounds of a number as its tags give them ("" for
	// none), in Unit when it has one; Why says why, when the tags say.
	Min, Max string
	Why      string
	Unit     string
	Doc      string
	Secret   bool
}

// Range renders the bounds: "1 to 64", ">= 1", "<= 10", or "".
func (k KeyDoc) Range() string {
	switch {
	case k.Min != "" && k.Max != "":
		return k.Min + " to " + k.Max
	case k.Min != "":
		return ">= " + k.Min
	case k.Max != "":
		return "<= " + k.Max
	}
	return ""
}

// Describe lists the keys of a config struct, with defaults taken from it.
// A sub-table (a struct field with a key tag) is listed, then its keys as
// "table.key".
func Describe(defaults any) []KeyDoc {
	rv := reflect.ValueOf(defaults)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	return describeKeys(rv, "")
}

func describeKeys(rv reflect.Value, prefix string) []KeyDoc {
	var out []KeyDoc
	for _, f := range keyFields(rv.Type()) {
		d := KeyDoc{Key: prefix + f.Key, Type: f.typeName(), Required: f.Required, Enum: f.Enum, Why: f.Why, Unit: f.Unit, Doc: f.Doc, Secret: f.Secret}
		if f.Min != nil {
			d.Min = number(*f.Min)
		}
		if f.Max != nil {
			d.Max = number(*f.Max)
		}
		if d.Unit == "" && f.typ == durationType {
			d.Unit = "ms"
		}
		if !f.Required && !f.Secret && !isTableType(f.typ) {
			d.Default = defaultText(rv.FieldByIndex(f.index), f)
		}
		out = append(out, d)
		if isSubTable(f.typ) {
			out = append(out, describeKeys(rv.FieldByIndex(f.index), d.Key+".")...)
		}
	}
	return out
}

type keyField struct {
	Key          string
	Required     bool
	Secret       bool
	RunVars      bool
	Lower        bool
	EmptyDefault bool
	Numeric      bool
	Enum         []string
	Min, Max     *float64
	Why          string
	Unit         string
	Doc          string
	typ          reflect.Type
	index        []int
}

// keyFields reads the tagged fields of t. A malformed min or max tag is a
// mistake in the program, not in a pipeline: it panics, and the tests of
// every config type catch it.
func keyFields(t reflect.Type) []keyField {
	var out []keyField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			for _, f := range keyFields(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		key := sf.Tag.Get("key")
		if key == "" {
			continue
		}
		f := keyField{Key: key, Required: sf.Tag.Get("required") == "true", Secret: sf.Tag.Get("secret") == "true",
			RunVars: sf.Tag.Get("runvars") == "true", Lower: sf.Tag.Get("lower") == "true", EmptyDefault: sf.Tag.Get("empty") == "default",
			Numeric: sf.Tag.Get("numeric") == "true", Why: sf.Tag.Get("why"), Unit: sf.Tag.Get("unit"), Doc: sf.Tag.Get("doc"), typ: sf.Type, index: []int{i}}
		if e := sf.Tag.Get("enum"); e != "" {
			f.Enum = strings.Split(e, ",")
		}
		f.Min, f.Max = bound(sf, "min"), bound(sf, "max")
		out = append(out, f)
	}
	return out
}

func bound(sf reflect.StructField, tag string) *float64 {
	s, ok := sf.Tag.Lookup(tag)
	if !ok {
		return nil
	}
	k := sf.Type.Kind()
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || !(k >= reflect.Int && k <= reflect.Int64 || k == reflect.Float32 || k == reflect.Float64) {
		panic(fmt.Sprintf("config: field %s: %s:%q wants a number on a number or duration field", sf.Name, tag, s))
	}
	return &x
}

var (
	durationType   = reflect.TypeOf(time.Duration(0))
	deadLetterType = reflect.TypeOf((*DeadLetter)(nil))
	pairsType      = reflect.TypeOf(Pairs(nil))
)

func (f keyField) typeName() string {
	switch {
	case f.typ == durationType && f.Numeric:
		return "number (" + f.unit() + ")"
	case f.typ == durationType:
		return "duration (" + f.unit() + ")"
	case f.typ == deadLetterType:
		return "path or table"
	case f.typ == pairsType:
		return "table of strings, in order"
	case isTableType(f.typ) && f.typ.Kind() == reflect.Slice:
		return "array of tables"
	case isTableType(f.typ):
		return "table"
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		return "list of strings"
	case f.typ.Kind() == reflect.Map:
		return "table of strings"
	case f.typ.Kind() == reflect.Interface:
		return "any"
	case f.typ.Kind() >= reflect.Int && f.typ.Kind() <= reflect.Int64:
		return "integer" + parens(f.Unit)
	case f.typ.Kind() == reflect.Float64:
		return "number" + parens(f.Unit)
	}
	return f.typ.Kind().String()
}

// unit is a duration's unit: ms or s.
func (f keyField) unit() string {
	if f.Unit == "s" {
		return "s"
	}
	return "ms"
}

// want says what a number or duration key takes: "a whole number from 1 to
// 64". help adds how a duration may be written.
func (f keyField) want(help bool) string {
	switch {
	case f.typ == durationType:
		long := "milliseconds"
		if f.unit() == "s" {
			long = "seconds"
		}
		if f.Numeric {
			return "a number of " + long + f.bounds(">= 0", "")
		}
		s := "a duration" + f.bounds(">= 0", " "+f.unit())
		if help {
			s += fmt.Sprintf(" (a number of %s, or a string such as \"1.5s\")", long)
		}
		return s
	case f.typ.Kind() == reflect.Float64:
		return "a number" + f.of() + f.bounds("", "")
	}
	return "a whole number" + f.of() + f.bounds("", "")
}

func (f keyField) of() string {
	if f.Unit == "" {
		return ""
	}
	return " of " + f.Unit
}

// bounds renders the tags' bounds with suffix after the numbers, or def
// when there are none.
func (f keyField) bounds(def, suffix string) string {
	switch {
	case f.Min != nil && f.Max != nil:
		return fmt.Sprintf(" from %s to %s%s", number(*f.Min), number(*f.Max), suffix)
	case f.Min != nil:
		return fmt.Sprintf(" >= %s%s", number(*f.Min), suffix)
	case f.Max != nil:
		return fmt.Sprintf(" <= %s%s", number(*f.Max), suffix)
	case def != "":
		return " " + def
	}
	return ""
}

func (f keyField) outside(x float64) bool {
	return f.Min != nil && x < *f.Min || f.Max != nil && x > *f.Max
}

func number(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// valueError is what setField finds wrong with a value; sub locates the
// element it is about ("[1]", ".x"), "" for the whole value.
type valueError struct {
	kind Kind
	msg  string
	sub  string
}

func setField(fv reflect.Value, f keyField, v any) *valueError {
	show := func() string {
		if f.Secret {
			return "a value (hidden: secret)"
		}
		return describe(v)
	}
	bad := func(kind Kind, format string, args ...any) *valueError {
		return &valueError{kind: kind, msg: fmt.Sprintf(format, args...)}
	}
	outOfRange := func() *valueError {
		why := ""
		if f.Why != "" {
			why = " (" + f.Why + ")"
		}
		return bad(OutOfRange, "want %s%s, got %s", f.want(false), why, show())
	}
	switch {
	case f.typ == durationType:
		d, err := toDuration(v, f.unit(), f.Numeric)
		if err != nil {
			kind := BadType
			if negative(v, f.Numeric) {
				kind = OutOfRange
			}
			return bad(kind, "want %s, got %s", f.want(true), show())
		}
		scale := time.Millisecond
		if f.unit() == "s" {
			scale = time.Second
		}
		if f.outside(float64(d) / float64(scale)) {
			return outOfRange()
		}
		fv.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			if isScalar(v) && len(f.Enum) == 0 {
				s = scalarText(v)
			} else {
				return bad(BadType, "want a string, got %s", show())
			}
		}
		if name := firstRunVar(s); name != "" && !f.RunVars {
			return bad(BadReference, "%v", runVarMisplaced(name))
		}
		if f.Lower {
			s = strings.ToLower(s)
		}
		if s == "" && f.EmptyDefault {
			return nil
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return bad(BadValue, "unknown value %s (want one of %s)%s", show(), strings.Join(f.Enum, ", "), suggestion(s, f.Enum))
		}
		fv.SetString(s)
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		list, err := toStrings(v)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(list).Convert(f.typ))
	case f.typ.Kind() == reflect.Map && f.typ.Key().Kind() == reflect.String && f.typ.Elem().Kind() == reflect.String:
		m, ok := v.(map[string]any)
		if !ok {
			return bad(BadType, "must be a table, got %s", typeName(v))
		}
		out := reflect.MakeMapWithSize(f.typ, len(m))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			switch e := m[k]; e.(type) {
			case string, int64, float64, bool:
				out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(scalarText(e)).Convert(f.typ.Elem()))
			default:
				return &valueError{kind: BadType, msg: fmt.Sprintf("want a table of strings, numbers and booleans; %s is %s", k, typeName(e)), sub: "." + k}
			}
		}
		fv.Set(out)
	case f.typ.Kind() >= reflect.Int && f.typ.Kind() <= reflect.Int64:
		n, err := toInt(v)
		if err != nil {
			return bad(BadType, "want %s, got %s", f.want(true), show())
		}
		if fv.OverflowInt(n) {
			return bad(OutOfRange, "%d is out of range", n)
		}
		if f.outside(float64(n)) {
			return outOfRange()
		}
		fv.SetInt(n)
	case f.typ.Kind() == reflect.Float64:
		x, err := toFloat(v)
		if err != nil {
			return bad(BadType, "want %s, got %s", f.want(true), show())
		}
		if f.outside(x) {
			return outOfRange()
		}
		fv.SetFloat(x)
	case f.typ.Kind() == reflect.Bool:
		b, err := toBool(v)
		if err != nil {
			return bad(BadType, "want true or false, got %s", show())
		}
		fv.SetBool(b)
	case f.typ.Kind() == reflect.Interface:
		fv.Set(reflect.ValueOf(v))
	default:
		return bad(Other, "unsupported config field type %s", f.typ)
	}
	return nil
}

// negative reports whether v is a number below zero (or, unless numeric,
// a negative duration such as "-5s"): a duration out of range, not of the
// wrong type.
func negative(v any, numeric bool) bool {
	if x, err := toFloat(v); err == nil {
		return x < 0
	}
	if s, ok := v.(string); ok && !numeric {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		return err == nil && d < 0
	}
	return false
}

// isScalar reports whether a string key takes v as its text: an integer or
// a boolean. A float is not taken: its text would not be what was written
// (version = 1.10 would be "1.1").
func isScalar(v any) bool {
	switch v.(type) {
	case int64, bool:
		return true
	}
	return false
}

// toStrings accepts a list of strings or one comma-separated string.
func toStrings(v any) ([]string, *valueError) {
	switch x := v.(type) {
	case string:
		var out []string
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, &valueError{kind: BadType, msg: fmt.Sprintf("want a list of strings, element %d is %s", i, describe(e)), sub: fmt.Sprintf("[%d]", i)}
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, &valueError{kind: BadType, msg: fmt.Sprintf("want a string or a list of strings, got %s", describe(v))}
}

// toDuration reads a bare number in unit (ms by default) or, unless
// numeric, a Go duration string such as "1.5s".
func toDuration(v any, unit string, numeric bool) (time.Duration, error) {
	scale := time.Millisecond
	if unit == "s" {
		scale = time.Second
	}
	if s, ok := v.(string); ok && !numeric {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && d >= 0 {
			return d, nil
		}
	}
	f, err := toFloat(v)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return time.Duration(f * float64(scale)), nil
}

func defaultText(v reflect.Value, f keyField) string {
	if v.Type() == durationType {
		d := time.Duration(v.Int())
		if d < 0 {
			return "" // "depends": the doc says
		}
		switch f.Unit {
		case "s":
			return fmt.Sprint(d.Seconds())
		case "ms":
			return fmt.Sprint(d.Milliseconds())
		}
		return d.String()
	}
	if v.IsZero() || v.CanInt() && v.Int() < 0 || v.Kind() == reflect.Map && v.Len() == 0 { // negative: "depends", as for durations
		return ""
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v.Interface())
}

func sortedValueKeys(m map[string]Value) []string {
	raw := make(map[string]any, len(m))
	for k := range m {
		raw[k] = nil
	}
	return slices.Sorted(maps.Keys(raw))
}
