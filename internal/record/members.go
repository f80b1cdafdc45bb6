package record

// AppendWithout appends to dst the JSON object obj without the top-level
// members for which omit (given the member's unescaped name, which it must
// not keep, and its value as written) is true, and reports whether it
// omitted any. Runs of kept members are copied as they are, in one step
// each. When it omits nothing, or obj is not a valid JSON object, it
// returns dst as it was (its spare capacity may have been written) and
// false: obj serves as it is.
func AppendWithout(dst, obj []byte, omit func(name string, value []byte) bool) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, '{')
	omitted := false
	run, runEnd := -1, -1 // the kept members not yet copied: obj[run:runEnd]
	flush := func() {
		if run >= 0 {
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = append(dst, obj[run:runEnd]...)
			run = -1
		}
	}
	ok := MemberSpans(obj, func(name string, key, _, value, end int) bool {
		if omit(name, obj[value:end]) {
			omitted = true
			flush()
			return true
		}
		if run < 0 {
			run = key
		}
		runEnd = end
		return true
	})
	if !ok || !omitted {
		return dst[:start], false
	}
	flush()
	return append(dst, '}'), true
}
