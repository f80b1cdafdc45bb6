package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// stateVersion is the first byte of an encoded State.
const stateVersion = 1

func appendName(dst []byte, name string) []byte {
	dst = record.AppendString(dst, name)
	return append(dst, ':')
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// AppendBinary appends st's encoding to dst, for a changelog or a store:
// a version byte (1), the number of aggregates, then each one's state:
// count: its count; sum, avg: the count and the number; min, max: the
// value's JSON text (empty: none); first, last: the event time and the
// text; count_distinct: the members, sorted. Integers are varints, texts
// a uvarint length and the bytes; a number is a byte (0: exact, then the
// mantissa and the scale; 1: a float64's 8 bytes). The encoding of a state
// does not depend on the order its records were added in.
func (s *Set) AppendBinary(dst []byte, st *State) []byte {
	dst = append(dst, stateVersion)
	dst = binary.AppendUvarint(dst, uint64(len(s.aggs)))
	for i := range s.aggs {
		c := &st.accs[i]
		switch s.aggs[i].Func {
		case Count:
			dst = binary.AppendVarint(dst, c.n)
		case Sum, Avg:
			dst = binary.AppendVarint(dst, c.n)
			dst = appendNum(dst, c.sum)
		case Min, Max:
			dst = appendBytes(dst, c.val)
		case First, Last:
			dst = binary.AppendVarint(dst, c.t)
			dst = appendBytes(dst, c.val)
		case CountDistinct:
			dst = binary.AppendUvarint(dst, uint64(len(c.set)))
			for _, k := range sortedKeys(c.set) {
				dst = appendBytes(dst, []byte(k))
			}
		}
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendNum(dst []byte, x num) []byte {
	if x.float {
		dst = append(dst, 1)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(x.f))
	}
	dst = append(dst, 0)
	dst = binary.AppendVarint(dst, x.m)
	return append(dst, x.scale)
}

// errState is the error of an encoding that is not a State of the Set.
var errState = errors.New("window state: corrupt or written by another aggregates table")

// DecodeState decodes a State written by AppendBinary with the same Set
// (the same aggregates table).
func (s *Set) DecodeState(b []byte) (*State, error) {
	st := s.New()
	if err := s.DecodeInto(st, b); err != nil {
		return nil, err
	}
	return st, nil
}

// DecodeInto is DecodeState into st, a State of the Set, which it resets
// first (see Reset).
func (s *Set) DecodeInto(st *State, b []byte) error {
	s.Reset(st)
	d := decoder{b: b}
	if d.byte() != stateVersion || d.uvarint() != uint64(len(s.aggs)) || d.err {
		return fmt.Errorf("%w (header)", errState)
	}
	for i := range s.aggs {
		c := &st.accs[i]
		switch f := s.aggs[i].Func; f {
		case Count:
			c.n = d.varint()
		case Sum, Avg:
			c.n = d.varint()
			c.sum = d.num()
		case Min, Max:
			if v := d.bytes(); len(v) > 0 {
				x, isNum := numberOf(gjson.Parse(string(v)))
				c.offer(f, string(v), x, isNum)
			}
		case First, Last:
			c.t = d.varint()
			if v := d.bytes(); len(v) > 0 {
				c.val = append([]byte(nil), v...)
			}
		case CountDistinct:
			n := d.uvarint()
			if n > uint64(len(b)) {
				d.err = true
				break
			}
			if c.set == nil {
				c.set = make(map[string]struct{}, n)
			}
			for range n {
				c.set[string(d.bytes())] = struct{}{}
			}
		}
	}
	if d.err || len(d.b) != 0 {
		return errState
	}
	return nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) num() num {
	switch d.byte() {
	case 0:
		m := d.varint()
		scale := d.byte()
		if scale > maxScale {
			d.err = true
		}
		return num{m: m, scale: scale}
	case 1:
		if len(d.b) < 8 {
			d.err = true
			return num{}
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return num{float: true, f: f}
	}
	d.err = true
	return num{}
}
