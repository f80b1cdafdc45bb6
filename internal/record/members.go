package record

// Runs appends a JSON object made of some members of another, obj, to Dst:
// the members kept are copied as they are written, a run of consecutive
// ones in one step. Start it with NewRuns, call Keep for each member kept
// (by MemberSpans' indexes), Flush before appending anything else to Dst
// yourself, and Close at the end.
type Runs struct {
	Dst         []byte
	obj         []byte
	run, runEnd int // the kept members not yet copied: obj[run:runEnd]
}

// NewRuns starts an object on dst, made of members of obj.
func NewRuns(dst, obj []byte) Runs {
	return Runs{Dst: append(dst, '{'), obj: obj, run: -1}
}

// Keep adds the member obj[key:end] (key and value) to the object.
func (r *Runs) Keep(key, end int) {
	if r.run < 0 {
		r.run = key
	}
	r.runEnd = end
}

// Flush copies the members kept so far, after a comma unless they are the
// object's first.
func (r *Runs) Flush() {
	if r.run < 0 {
		return
	}
	if r.Dst[len(r.Dst)-1] != '{' {
		r.Dst = append(r.Dst, ',')
	}
	r.Dst = append(r.Dst, r.obj[r.run:r.runEnd]...)
	r.run = -1
}

// Close flushes and closes the object, returning Dst.
func (r *Runs) Close() []byte {
	r.Flush()
	return append(r.Dst, '}')
}

// AppendWithout appends to dst the JSON object obj without the top-level
// members for which omit (given the member's unescaped name, which it must
// not keep, and its value as written) is true, and reports whether it
// omitted any. When it omits nothing, or obj is not a valid JSON object, it
// returns dst as it was (its spare capacity may have been written) and
// false: obj serves as it is.
func AppendWithout(dst, obj []byte, omit func(name string, value []byte) bool) ([]byte, bool) {
	start := len(dst)
	r := NewRuns(dst, obj)
	omitted := false
	ok := MemberSpans(obj, func(name string, key, _, value, end int) bool {
		if omit(name, obj[value:end]) {
			omitted = true
			r.Flush()
			return true
		}
		r.Keep(key, end)
		return true
	})
	if !ok || !omitted {
		return r.Dst[:start], false
	}
	return r.Close(), true
}
