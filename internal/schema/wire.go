package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// magic is the first byte of a value in Confluent's wire format.
const magic = 0

// ErrWire is a value that is not in Confluent's wire format.
var ErrWire = errors.New("not in the schema registry's wire format")

// splitWire returns the schema id of value, in Confluent's wire format, and
// what follows the id.
func splitWire(value []byte) (id int, rest []byte, err error) {
	if len(value) < 5 {
		return 0, nil, fmt.Errorf("%w: %d bytes, want at least 5 (a zero byte and a 4-byte schema id)", ErrWire, len(value))
	}
	if value[0] != magic {
		return 0, nil, fmt.Errorf("%w: first byte is 0x%02x, want 0x00", ErrWire, value[0])
	}
	return int(binary.BigEndian.Uint32(value[1:5])), value[5:], nil
}

// appendHeader appends the wire format's header for schema id to dst.
func appendHeader(dst []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(dst, magic), uint32(id))
}
