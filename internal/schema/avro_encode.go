package schema

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// FieldError is a record that does not fit the schema it is written with:
// the path of the field (dotted, with [i] for array items and [key] for
// map values) and what was wanted there.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return "field " + e.Path + ": " + e.Msg
}

// under prefixes err's path with elem (a field name, or [i]).
func under(err error, elem string) error {
	fe, ok := err.(*FieldError)
	if !ok {
		return err
	}
	switch {
	case fe.Path == "":
		fe.Path = elem
	case fe.Path[0] == '[':
		fe.Path = elem + fe.Path
	default:
		fe.Path = elem + "." + fe.Path
	}
	return fe
}

func want(v gjson.Result, format string, args ...any) error {
	got := v.Raw
	if !v.Exists() {
		got = "nothing"
	} else if len(got) > 40 {
		got = got[:40] + "..."
	}
	return &FieldError{Msg: fmt.Sprintf(format, args...) + ", got " + got}
}

// encState is the scratch of one encoding: the field values (raw JSON) of
// the records being written, a stack shared by the nested ones.
type encState struct{ raws [][]byte }

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// encode appends v, a JSON value, in Avro binary with schema n.
func (st *encState) encode(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	switch n.kind {
	case kNull:
		if v.Type != gjson.Null || !v.Exists() {
			return dst, want(v, "want null")
		}
		return dst, nil
	case kBool:
		switch v.Type {
		case gjson.True:
			return append(dst, 1), nil
		case gjson.False:
			return append(dst, 0), nil
		}
		return dst, want(v, "want a boolean")
	case kInt, kLong:
		i, ok := integer(v)
		if !ok || n.kind == kInt && (i < math.MinInt32 || i > math.MaxInt32) {
			return dst, want(v, "want an Avro %s (a whole number)", n.label)
		}
		return appendVarint(dst, i), nil
	case kFloat:
		f, ok := float(v, 32)
		if !ok {
			return dst, want(v, "want a number (Avro float)")
		}
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
	case kDouble:
		f, ok := float(v, 64)
		if !ok {
			return dst, want(v, "want a number (Avro double)")
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case kString:
		if v.Type != gjson.String {
			return dst, want(v, "want a string")
		}
		dst = appendVarint(dst, int64(len(v.Str)))
		return append(dst, v.Str...), nil
	case kBytes, kFixed:
		return encodeBytes(dst, n, v)
	case kDecimal:
		return encodeDecimal(dst, n, v)
	case kEnum:
		i, ok := n.symIndex[v.Str]
		if v.Type != gjson.String || !ok {
			return dst, want(v, "want one of the symbols of enum %s (%s)", n.label, strings.Join(n.symbols, ", "))
		}
		return appendVarint(dst, int64(i)), nil
	case kArray, kMap:
		return st.encodeBlocks(dst, n, v)
	case kUnion:
		return st.encodeUnion(dst, n, v)
	case kRecord:
		return st.encodeRecord(dst, n, v)
	}
	return dst, fmt.Errorf("avro: unknown type %d", n.kind)
}

// integer reads a JSON number that is a whole number.
func integer(v gjson.Result) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	if i, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
		return i, true
	}
	if v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1<<53 {
		return int64(v.Num), true
	}
	return 0, false
}

// float reads a JSON number, or "NaN", "Infinity" or "-Infinity".
func float(v gjson.Result, bits int) (float64, bool) {
	switch v.Type {
	case gjson.Number:
		if bits == 64 {
			return v.Num, true // gjson parsed it already, as ParseFloat(raw, 64)
		}
		f, err := strconv.ParseFloat(v.Raw, bits)
		return f, err == nil
	case gjson.String:
		switch v.Str {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

func encodeBytes(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	if v.Type != gjson.String {
		return dst, want(v, "want base64 text (Avro %s)", n.label)
	}
	size := base64.StdEncoding.DecodedLen(len(v.Str))
	start := len(dst)
	if n.kind == kBytes {
		dst = appendVarint(dst, int64(size)) // a guess; fixed below if padding made it shorter
	}
	body := len(dst)
	out, err := base64.StdEncoding.AppendDecode(dst, []byte(v.Str))
	if err != nil {
		return dst[:start], want(v, "want base64 text (Avro %s): %v", n.label, err)
	}
	got := len(out) - body
	switch {
	case n.kind == kFixed && got != n.size:
		return dst[:start], want(v, "want %d bytes (Avro fixed %s), got %d", n.size, n.label, got)
	case n.kind == kBytes && got != size:
		b := append([]byte(nil), out[body:]...)
		return append(appendVarint(out[:start], int64(got)), b...), nil
	}
	return out, nil
}

// encodeDecimal writes a decimal given as text (or a number) with the
// schema's scale: more fraction digits than the scale fail the record.
func encodeDecimal(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	text := v.Str
	if v.Type == gjson.Number {
		text = v.Raw
	} else if v.Type != gjson.String {
		return dst, want(v, "want a decimal as text with scale %d, e.g. \"12.30\"", n.scale)
	}
	unscaled, ok := parseDecimal(text, n.scale)
	if !ok {
		return dst, want(v, "want a decimal as text with at most %d digits after the point", n.scale)
	}
	b := twosComplement(unscaled)
	if n.size == 0 {
		return append(appendVarint(dst, int64(len(b))), b...), nil
	}
	if len(b) > n.size {
		return dst, want(v, "want a decimal that fits %d bytes (Avro fixed %s)", n.size, n.label)
	}
	pad := byte(0)
	if unscaled.Sign() < 0 {
		pad = 0xff
	}
	for range n.size - len(b) {
		dst = append(dst, pad)
	}
	return append(dst, b...), nil
}

// parseDecimal reads text ("-12.3", "1e2" is not taken) as an unscaled
// integer with scale digits after the point.
func parseDecimal(text string, scale int) (*big.Int, bool) {
	neg := strings.HasPrefix(text, "-")
	text = strings.TrimPrefix(text, "-")
	whole, frac, _ := strings.Cut(text, ".")
	if whole == "" || len(frac) > scale || strings.ContainsAny(whole+frac, "eE+-") {
		return nil, false
	}
	digits := whole + frac + strings.Repeat("0", scale-len(frac))
	v, ok := new(big.Int).SetString(digits, 10)
	if ok && neg {
		v.Neg(v)
	}
	return v, ok
}

// twosComplement is v as the fewest big-endian two's complement bytes.
func twosComplement(v *big.Int) []byte {
	if v.Sign() >= 0 {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	n := (v.BitLen() + 8) / 8 // room for the sign bit
	m := new(big.Int).Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

func (st *encState) encodeBlocks(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	if n.kind == kArray && !v.IsArray() || n.kind == kMap && !v.IsObject() {
		kind := "an array"
		if n.kind == kMap {
			kind = "an object (Avro map)"
		}
		return dst, want(v, "want %s", kind)
	}
	count := 0
	v.ForEach(func(_, _ gjson.Result) bool { count++; return true })
	if count == 0 {
		return append(dst, 0), nil
	}
	dst = appendVarint(dst, int64(count))
	var err error
	i := 0
	v.ForEach(func(k, item gjson.Result) bool {
		if n.kind == kMap {
			dst = append(appendVarint(dst, int64(len(k.Str))), k.Str...)
		}
		if dst, err = st.encode(dst, n.items, item); err != nil {
			if n.kind == kMap {
				err = under(err, "["+k.Str+"]")
			} else {
				err = under(err, "["+strconv.Itoa(i)+"]")
			}
			return false
		}
		i++
		return true
	})
	return append(dst, 0), err
}

func (st *encState) encodeUnion(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	if n.nullAt >= 0 && (!v.Exists() || v.Type == gjson.Null) {
		return appendVarint(dst, int64(n.nullAt)), nil
	}
	if n.other >= 0 {
		return st.encode(appendVarint(dst, int64(n.other)), n.branches[n.other], v)
	}
	if v.IsObject() {
		var label, inner gjson.Result
		members := 0
		v.ForEach(func(k, val gjson.Result) bool { label, inner = k, val; members++; return members < 2 })
		for i, b := range n.branches {
			if members == 1 && b.label == label.Str {
				out, err := st.encode(appendVarint(dst, int64(i)), b, inner)
				return out, under(err, "["+b.label+"]")
			}
		}
	}
	labels := make([]string, len(n.branches))
	for i, b := range n.branches {
		labels[i] = b.label
	}
	return dst, want(v, "want {\"<branch>\": value} with a branch of the union (%s)", strings.Join(labels, ", "))
}

func (st *encState) encodeRecord(dst []byte, n *anode, v gjson.Result) ([]byte, error) {
	if !v.IsObject() {
		return dst, want(v, "want an object (Avro record %s)", n.label)
	}
	base := len(st.raws)
	for range n.fields {
		st.raws = append(st.raws, nil)
	}
	defer func() { st.raws = st.raws[:base] }()
	obj := unsafeBytes(v.Raw)
	ok := record.Members(obj, func(name string, _, value []byte) bool {
		if i, ok := n.fieldIdx[name]; ok && st.raws[base+i] == nil { // the first of a repeated name counts
			st.raws[base+i] = value
		}
		return true
	})
	if !ok {
		return dst, want(v, "want an object (Avro record %s)", n.label)
	}
	var err error
	for i := range n.fields {
		f := &n.fields[i]
		raw := st.raws[base+i]
		switch {
		case raw != nil:
			dst, err = st.encodeRaw(dst, f.node, raw)
		case f.def != nil:
			dst = append(dst, f.def...)
		case f.node.kind == kUnion && f.node.nullAt >= 0:
			dst = appendVarint(dst, int64(f.node.nullAt))
		default:
			err = &FieldError{Msg: "missing, and the schema gives no default"}
		}
		if err != nil {
			return dst, under(err, f.name)
		}
	}
	return dst, nil
}

// encodeRaw is encode of a record's member as written (raw JSON): the
// usual strings, whole numbers, doubles and nullable unions of them are
// written from the bytes; anything else is parsed and goes to encode.
func (st *encState) encodeRaw(dst []byte, n *anode, raw []byte) ([]byte, error) {
	switch n.kind {
	case kString:
		if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
			s := raw[1 : len(raw)-1]
			return append(appendVarint(dst, int64(len(s))), s...), nil
		}
	case kInt, kLong:
		if i, err := strconv.ParseInt(unsafeString(raw), 10, 64); err == nil && (n.kind == kLong || i >= math.MinInt32 && i <= math.MaxInt32) {
			return appendVarint(dst, i), nil
		}
	case kDouble:
		if raw[0] != '"' {
			if f, err := strconv.ParseFloat(unsafeString(raw), 64); err == nil {
				return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
			}
		}
	case kUnion:
		if n.other >= 0 {
			if string(raw) == "null" && n.nullAt >= 0 {
				return appendVarint(dst, int64(n.nullAt)), nil
			}
			return st.encodeRaw(appendVarint(dst, int64(n.other)), n.branches[n.other], raw)
		}
	}
	return st.encode(dst, n, parseJSON(raw))
}

func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
