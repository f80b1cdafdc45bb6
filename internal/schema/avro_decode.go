package schema

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unsafe"

	"github.com/conveyor-etl/conveyor/internal/record"
)

var errShort = errors.New("avro: value ends early")

// areader reads Avro binary.
type areader struct {
	b []byte
	i int
}

func (r *areader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		if n == 0 {
			return 0, errShort
		}
		return 0, errors.New("avro: varint overflows a long")
	}
	r.i += n
	return v, nil
}

func (r *areader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.i) {
		return nil, fmt.Errorf("avro: length %d is past the value's end", n)
	}
	b := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return b, nil
}

func (r *areader) fixed(n int) ([]byte, error) {
	if n > len(r.b)-r.i {
		return nil, errShort
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b, nil
}

// decodeAvro appends the JSON form of the Avro binary data, written with
// schema n, to dst. It fails on data the schema does not read whole.
func decodeAvro(dst []byte, n *anode, data []byte) ([]byte, error) {
	r := areader{b: data}
	out, err := r.decode(dst, n)
	if err == nil && r.i != len(data) {
		err = fmt.Errorf("avro: %d bytes left over after the value", len(data)-r.i)
	}
	return out, err
}

func (r *areader) decode(dst []byte, n *anode) ([]byte, error) {
	switch n.kind {
	case kNull:
		return append(dst, "null"...), nil
	case kBool:
		b, err := r.fixed(1)
		if err != nil {
			return dst, err
		}
		return strconv.AppendBool(dst, b[0] != 0), nil
	case kInt, kLong:
		v, err := r.long()
		return strconv.AppendInt(dst, v, 10), err
	case kFloat:
		b, err := r.fixed(4)
		if err != nil {
			return dst, err
		}
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), nil
	case kDouble:
		b, err := r.fixed(8)
		if err != nil {
			return dst, err
		}
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), nil
	case kString:
		b, err := r.bytes()
		return record.AppendString(dst, unsafeString(b)), err
	case kBytes, kFixed, kDecimal:
		return r.decodeBytes(dst, n)
	case kEnum:
		v, err := r.long()
		if err != nil {
			return dst, err
		}
		if v < 0 || v >= int64(len(n.symbols)) {
			return dst, fmt.Errorf("avro: enum %s has no symbol %d", n.label, v)
		}
		return record.AppendString(dst, n.symbols[v]), nil
	case kArray, kMap:
		return r.decodeBlocks(dst, n)
	case kUnion:
		return r.decodeUnion(dst, n)
	case kRecord:
		dst = append(dst, '{')
		for i := range n.fields {
			f := &n.fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, f.quoted...)
			var err error
			if dst, err = r.decode(dst, f.node); err != nil {
				return dst, fmt.Errorf("%s: %w", f.name, err)
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("avro: unknown type %d", n.kind)
}

func (r *areader) decodeBytes(dst []byte, n *anode) ([]byte, error) {
	var b []byte
	var err error
	if n.kind == kFixed || n.kind == kDecimal && n.size > 0 {
		b, err = r.fixed(n.size)
	} else {
		b, err = r.bytes()
	}
	if err != nil {
		return dst, err
	}
	if n.kind == kDecimal {
		return appendDecimal(dst, b, n.scale), nil
	}
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"'), nil
}

func (r *areader) decodeBlocks(dst []byte, n *anode) ([]byte, error) {
	open, end := byte('['), byte(']')
	if n.kind == kMap {
		open, end = '{', '}'
	}
	dst = append(dst, open)
	first := true
	for {
		count, err := r.long()
		if err != nil {
			return dst, err
		}
		if count == 0 {
			return append(dst, end), nil
		}
		if count < 0 { // a block with its size in bytes
			count = -count
			if _, err := r.long(); err != nil {
				return dst, err
			}
		}
		for ; count > 0; count-- {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if n.kind == kMap {
				k, err := r.bytes()
				if err != nil {
					return dst, err
				}
				dst = append(record.AppendString(dst, unsafeString(k)), ':')
			}
			if dst, err = r.decode(dst, n.items); err != nil {
				return dst, err
			}
		}
	}
}

func (r *areader) decodeUnion(dst []byte, n *anode) ([]byte, error) {
	i, err := r.long()
	if err != nil {
		return dst, err
	}
	if i < 0 || i >= int64(len(n.branches)) {
		return dst, fmt.Errorf("avro: union has no branch %d", i)
	}
	b := n.branches[i]
	if b.kind == kNull || n.other >= 0 {
		return r.decode(dst, b)
	}
	dst = append(record.AppendString(append(dst, '{'), b.label), ':')
	if dst, err = r.decode(dst, b); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// appendFloat appends f as JSON: the shortest text that reads back to the
// same float of bits; NaN and the infinities as strings.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendDecimal appends the decimal whose unscaled value is b (big-endian
// two's complement) as a JSON string with scale digits after the point.
func appendDecimal(dst, b []byte, scale int) []byte {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	digits := v.Abs(v).String()
	dst = append(dst, '"')
	if len(b) > 0 && b[0]&0x80 != 0 {
		dst = append(dst, '-')
	}
	if scale > 0 {
		for len(digits) <= scale {
			digits = "0" + digits
		}
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-scale:]...)
	} else {
		dst = append(dst, digits...)
	}
	return append(dst, '"')
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
