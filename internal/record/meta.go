package record

import "bytes"

// isMetaKey reports whether the raw JSON string key (quotes included)
// decodes to the name of a member that Enrich appends.
func isMetaKey(raw []byte) bool {
	// The names are 10 to 16 bytes; each byte may be written as \uXXXX.
	if len(raw) < len(`"`+KeyField+`"`) || len(raw) > 2+6*len(TimestampField) {
		return false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return isMetaName(s)
	}
	var buf [len(TimestampField)]byte
	n := 0
	for i := 0; i < len(s); n++ {
		if n == len(buf) {
			return false
		}
		if s[i] != '\\' {
			buf[n] = s[i]
			i++
			continue
		}
		// The string is valid, so an escape is complete. The names are
		// plain ASCII letters and '_', which only \u can spell otherwise.
		if s[i+1] != 'u' || !bytes.HasPrefix(s[i+2:], []byte("00")) {
			return false
		}
		buf[n] = unhex(s[i+4])<<4 | unhex(s[i+5])
		i += 6
	}
	return isMetaName(buf[:n])
}

func isMetaName(s []byte) bool {
	switch string(s) {
	case KeyField, PartitionField, OffsetField, TimestampField:
		return true
	}
	return false
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default: // 'A' to 'F'
		return c - 'A' + 10
	}
}

// dropMetaMembers removes, in place, the top-level members of the compact,
// valid JSON object obj whose names Enrich appends, and returns the
// shortened object.
func dropMetaMembers(obj []byte) []byte {
	w := 1 // obj[:w] is the output so far: '{' and the kept members
	for i := 1; obj[i] != '}'; {
		keyEnd, _ := scanString(obj, i+1)
		valueEnd := skipValue(obj, keyEnd+1)
		if !isMetaKey(obj[i:keyEnd]) {
			if w > 1 {
				obj[w] = ','
				w++
			}
			w += copy(obj[w:], obj[i:valueEnd])
		}
		i = valueEnd
		if obj[i] == ',' {
			i++
		}
	}
	obj[w] = '}'
	return obj[:w+1]
}

// skipValue returns the index of the ',' or closing bracket that follows the
// value starting at i in compact, valid JSON.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			end, _ := scanString(b, i+1)
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}
