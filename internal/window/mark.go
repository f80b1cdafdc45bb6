package window

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MarkHeader is the Kafka header that carries a Mark through a
// repartition topic.
const MarkHeader = "conveyor-wm"

// Mark is one input's progress in event time: what a repartition topic
// carries so the stage behind it closes windows by the source partitions'
// watermarks and decides lateness in each source partition's own order,
// and what a checkpoint of a Tracker keeps.
//
// Through a repartition topic: the stage in front writes every record with
// a MarkHeader holding Mark{Input: its source partition, Max: that
// partition's maximum before the record}; and, on a wall-clock tick, when
// a source partition's maximum has risen or it turned idle, a mark record
// (null key, empty value, the MarkHeader alone) to every partition of the
// repartition topic. The stage behind assigns every source partition as an
// input (Tracker.Assign), feeds records to Tracker.ObserveCarried and mark
// records to Tracker.ObserveMark. Each source partition writes to each
// repartition partition in order, so its maximum only rises there.
type Mark struct {
	Input int32 // a partition of the source topic
	Max   int64 // its maximum event time (ms), NoTime if none yet
	Idle  bool  // the input has gone idle: it holds no window back
}

const markVersion = 1

// AppendBinary appends m's encoding to dst: a version byte (1), a flags
// byte (bit 0: Idle), the input as an unsigned varint and the maximum as
// a signed (zig-zag) varint; 4 to 15 bytes.
func (m Mark) AppendBinary(dst []byte) ([]byte, error) {
	if m.Input < 0 {
		return dst, fmt.Errorf("window mark: negative input %d", m.Input)
	}
	var flags byte
	if m.Idle {
		flags |= 1
	}
	dst = append(dst, markVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(m.Input))
	return binary.AppendVarint(dst, m.Max), nil
}

// ParseMark decodes a Mark written by Mark.AppendBinary.
func ParseMark(b []byte) (Mark, error) {
	if len(b) < 2 || b[0] != markVersion || b[1]&^1 != 0 {
		return Mark{}, errors.New("window mark: not a version 1 mark")
	}
	in, n := binary.Uvarint(b[2:])
	if n <= 0 || in > 1<<31-1 {
		return Mark{}, errors.New("window mark: bad input")
	}
	mx, k := binary.Varint(b[2+n:])
	if k <= 0 || 2+n+k != len(b) {
		return Mark{}, errors.New("window mark: bad maximum")
	}
	return Mark{Input: int32(in), Max: mx, Idle: b[1]&1 != 0}, nil
}
