package schema

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/tidwall/gjson"
)

type akind uint8

const (
	kNull akind = iota
	kBool
	kInt
	kLong
	kFloat
	kDouble
	kString
	kBytes
	kFixed
	kDecimal // on bytes (size 0) or fixed (size > 0)
	kEnum
	kArray
	kMap
	kUnion
	kRecord
)

// anode is a compiled Avro schema: what decoding and encoding walk.
type anode struct {
	kind     akind
	label    string // a union's name for this branch
	size     int    // fixed
	scale    int    // decimal
	symbols  []string
	symIndex map[string]int
	items    *anode // array items, map values
	branches []*anode
	nullAt   int // the union's null branch, or -1
	other    int // with two branches, one of them null: the other; else -1
	fields   []afield
	fieldIdx map[string]int
}

type afield struct {
	name   string
	quoted string // "name":
	node   *anode
	def    []byte // the default, encoded; nil without one
}

// compileAvro parses an Avro schema's text and compiles it.
func compileAvro(text string) (*anode, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	c := &avroCompiler{named: map[string]*anode{}}
	return c.compile(s)
}

type avroCompiler struct{ named map[string]*anode }

func (c *avroCompiler) compile(s avro.Schema) (*anode, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		if n, ok := c.named[s.Schema().FullName()]; ok {
			return n, nil
		}
		return c.compile(s.Schema())
	case *avro.NullSchema:
		return &anode{kind: kNull, label: "null"}, nil
	case *avro.PrimitiveSchema:
		return c.primitive(s)
	case *avro.FixedSchema:
		n := &anode{kind: kFixed, label: s.FullName(), size: s.Size()}
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			n.kind, n.scale = kDecimal, d.Scale()
		}
		c.named[s.FullName()] = n
		return n, nil
	case *avro.EnumSchema:
		n := &anode{kind: kEnum, label: s.FullName(), symbols: s.Symbols(), symIndex: map[string]int{}}
		for i, sym := range n.symbols {
			n.symIndex[sym] = i
		}
		c.named[s.FullName()] = n
		return n, nil
	case *avro.ArraySchema:
		items, err := c.compile(s.Items())
		return &anode{kind: kArray, label: "array", items: items}, err
	case *avro.MapSchema:
		vals, err := c.compile(s.Values())
		return &anode{kind: kMap, label: "map", items: vals}, err
	case *avro.UnionSchema:
		return c.union(s)
	case *avro.RecordSchema:
		return c.record(s)
	}
	return nil, fmt.Errorf("avro schema: type %s is not supported", s.Type())
}

func (c *avroCompiler) primitive(s *avro.PrimitiveSchema) (*anode, error) {
	n := &anode{label: string(s.Type())}
	switch s.Type() {
	case avro.Boolean:
		n.kind = kBool
	case avro.Int:
		n.kind = kInt
	case avro.Long:
		n.kind = kLong
	case avro.Float:
		n.kind = kFloat
	case avro.Double:
		n.kind = kDouble
	case avro.String:
		n.kind = kString
	case avro.Bytes:
		n.kind = kBytes
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			n.kind, n.scale = kDecimal, d.Scale()
		}
	default:
		return nil, fmt.Errorf("avro schema: type %s is not supported", s.Type())
	}
	return n, nil
}

func (c *avroCompiler) union(s *avro.UnionSchema) (*anode, error) {
	n := &anode{kind: kUnion, label: "union", nullAt: -1, other: -1}
	for i, t := range s.Types() {
		b, err := c.compile(t)
		if err != nil {
			return nil, err
		}
		if b.kind == kNull {
			n.nullAt = i
		}
		n.branches = append(n.branches, b)
	}
	if len(n.branches) == 2 && n.nullAt >= 0 {
		n.other = 1 - n.nullAt
	}
	return n, nil
}

func (c *avroCompiler) record(s *avro.RecordSchema) (*anode, error) {
	n := &anode{kind: kRecord, label: s.FullName(), fieldIdx: map[string]int{}}
	c.named[s.FullName()] = n // before the fields: a record may refer to itself
	for i, f := range s.Fields() {
		fn, err := c.compile(f.Type())
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name(), err)
		}
		af := afield{name: f.Name(), quoted: strconv.Quote(f.Name()) + ":", node: fn}
		n.fields = append(n.fields, af)
		n.fieldIdx[f.Name()] = i
	}
	// Defaults after every field is compiled: a default's type may be a
	// record named further down.
	for i, f := range s.Fields() {
		if !f.HasDefault() {
			continue
		}
		def, err := encodeDefault(n.fields[i].node, f.Default())
		if err != nil {
			return nil, fmt.Errorf("field %s: default: %w", f.Name(), err)
		}
		n.fields[i].def = def
	}
	return n, nil
}

// encodeDefault encodes a field's default (as hamba/avro decoded it from
// the schema's JSON): for a union, with its first branch, as Avro says.
func encodeDefault(n *anode, v any) ([]byte, error) {
	if b, ok := v.([]byte); ok { // bytes and fixed defaults: base64, our JSON form
		v = b
	}
	text, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var st encState
	if n.kind == kUnion {
		out := appendVarint(nil, 0)
		return st.encode(out, n.branches[0], parseJSON(text))
	}
	return st.encode(nil, n, parseJSON(text))
}

// parseJSON parses text without copying it: the results refer to text.
func parseJSON(text []byte) gjson.Result {
	if len(text) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafeString(text))
}
