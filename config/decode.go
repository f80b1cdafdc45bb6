package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
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
// from st.Config. dst should hold the defaults beforehand. Tags:
//
//	key:"name"          the config key (fields without it are ignored)
//	required:"true"     the key must be present
//	enum:"a,b,c"        the value must be one of these
//	unit:"ms"           for time.Duration: bare numbers are in this unit (ms or s)
//	secret:"true"       the value is never shown in messages
//	runvars:"true"      a string that may hold {{run_id}} and {{date}}, which
//	                    the function fills in with ExpandRunVars; any other
//	                    key holding them is an error
//	doc:"..."           one line for `conveyor info`
//
// Field types: string, []string (a list, or one comma-separated string), int
// kinds, float64, bool, time.Duration, any. Numbers and booleans may be
// written as strings ("1000"). Unknown keys are errors with a did-you-mean.
// After decoding, dst's Validate method runs when it has one. All problems
// are returned together as [Errors].
func DecodeStage(st *Stage, dst any) error {
	fields := keyFields(reflect.TypeOf(dst).Elem())
	rv := reflect.ValueOf(dst).Elem()
	var errs Errors
	fail := func(pos Pos, key, format string, args ...any) {
		errs = append(errs, &Error{Pos: pos, Stage: st.Index, StageID: st.ID, Key: "config." + key, Msg: fmt.Sprintf(format, args...)})
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Key
	}
	for _, k := range sortedValueKeys(st.Config) {
		if !slices.Contains(names, k) {
			fail(st.Config[k].Pos, k, "unknown key%s", suggestion(k, names))
		}
	}
	for _, f := range fields {
		v, ok := st.Config[f.Key]
		if !ok {
			if f.Required {
				fail(st.Pos, f.Key, "missing required key (%s)", f.Doc)
			}
			continue
		}
		if err := setField(rv.FieldByIndex(f.index), f, v.V); err != nil {
			fail(v.Pos, f.Key, "%v", err)
		}
	}
	if len(errs) == 0 {
		if val, ok := dst.(Validator); ok {
			for _, err := range flatten(val.Validate()) {
				var fe *FieldError
				if errors.As(err, &fe) {
					pos := st.Pos
					if v, ok := st.Config[fe.Key]; ok {
						pos = v.Pos
					}
					fail(pos, fe.Key, "%s", fe.Msg)
				} else {
					errs = append(errs, &Error{Pos: st.Pos, Stage: st.Index, StageID: st.ID, Key: "config", Msg: err.Error()})
				}
			}
		}
	}
	return errs.Err()
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

// KeyDoc describes one config key of a function.
type KeyDoc struct {
	Key      string
	Type     string
	Required bool
	Default  string // the value in the defaults given to Describe, "" for none
	Enum     []string
	Doc      string
	Secret   bool
}

// Describe lists the keys of a config struct, with defaults taken from it.
func Describe(defaults any) []KeyDoc {
	rv := reflect.ValueOf(defaults)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	var out []KeyDoc
	for _, f := range keyFields(rv.Type()) {
		d := KeyDoc{Key: f.Key, Type: f.typeName(), Required: f.Required, Enum: f.Enum, Doc: f.Doc, Secret: f.Secret}
		if !f.Required && !f.Secret {
			d.Default = defaultText(rv.FieldByIndex(f.index), f)
		}
		out = append(out, d)
	}
	return out
}

type keyField struct {
	Key      string
	Required bool
	Secret   bool
	RunVars  bool
	Enum     []string
	Unit     string
	Doc      string
	typ      reflect.Type
	index    []int
}

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
			RunVars: sf.Tag.Get("runvars") == "true", Unit: sf.Tag.Get("unit"), Doc: sf.Tag.Get("doc"), typ: sf.Type, index: []int{i}}
		if e := sf.Tag.Get("enum"); e != "" {
			f.Enum = strings.Split(e, ",")
		}
		out = append(out, f)
	}
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func (f keyField) typeName() string {
	switch {
	case f.typ == durationType:
		if f.Unit != "" {
			return "duration (" + f.Unit + ")"
		}
		return "duration"
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		return "list of strings"
	case f.typ.Kind() == reflect.Interface:
		return "any"
	case f.typ.Kind() >= reflect.Int && f.typ.Kind() <= reflect.Int64:
		return "integer"
	case f.typ.Kind() == reflect.Float64:
		return "number"
	}
	return f.typ.Kind().String()
}

func setField(fv reflect.Value, f keyField, v any) error {
	show := func() string {
		if f.Secret {
			return "a value (hidden: secret)"
		}
		return describe(v)
	}
	switch {
	case f.typ == durationType:
		d, err := toDuration(v, f.Unit)
		if err != nil {
			unit := "milliseconds"
			if f.Unit == "s" {
				unit = "seconds"
			}
			return fmt.Errorf("want a duration >= 0 (a number of %s, or a string such as \"1.5s\"), got %s", unit, show())
		}
		fv.SetInt(int64(d))
	case f.typ.Kind() == reflect.String:
		s, ok := v.(string)
		if !ok {
			if f.typ.Kind() == reflect.String && isScalar(v) && len(f.Enum) == 0 {
				s = scalarText(v)
			} else {
				return fmt.Errorf("want a string, got %s", show())
			}
		}
		if name := firstRunVar(s); name != "" && !f.RunVars {
			return runVarMisplaced(name)
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return fmt.Errorf("unknown value %s (want one of %s)%s", show(), strings.Join(f.Enum, ", "), suggestion(s, f.Enum))
		}
		fv.SetString(s)
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
		list, err := toStrings(v)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(list).Convert(f.typ))
	case f.typ.Kind() >= reflect.Int && f.typ.Kind() <= reflect.Int64:
		n, err := toInt(v)
		if err != nil {
			return fmt.Errorf("want a whole number, got %s", show())
		}
		if fv.OverflowInt(n) {
			return fmt.Errorf("%d is out of range", n)
		}
		fv.SetInt(n)
	case f.typ.Kind() == reflect.Float64:
		x, err := toFloat(v)
		if err != nil {
			return fmt.Errorf("want a number, got %s", show())
		}
		fv.SetFloat(x)
	case f.typ.Kind() == reflect.Bool:
		b, err := toBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %s", show())
		}
		fv.SetBool(b)
	case f.typ.Kind() == reflect.Interface:
		fv.Set(reflect.ValueOf(v))
	default:
		return fmt.Errorf("unsupported config field type %s", f.typ)
	}
	return nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case int64, float64, bool:
		return true
	}
	return false
}

// toStrings accepts a list of strings or one comma-separated string.
func toStrings(v any) ([]string, error) {
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
				return nil, fmt.Errorf("want a list of strings, element %d is %s", i, describe(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %s", describe(v))
}

// toDuration reads a bare number in unit (ms by default) or a Go duration
// string such as "1.5s".
func toDuration(v any, unit string) (time.Duration, error) {
	scale := time.Millisecond
	if unit == "s" {
		scale = time.Second
	}
	if s, ok := v.(string); ok {
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
	if v.IsZero() || v.CanInt() && v.Int() < 0 { // negative: "depends", as for durations
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
