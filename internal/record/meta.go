package record

// isReserved reports whether the raw JSON string key (quotes included, valid
// and without invalid UTF-8) decodes to the name of a member that Enrich
// adds, behind any number of RenamePrefix.
func isReserved(raw []byte) bool {
	s := raw[1 : len(raw)-1]
	if len(s) == 0 || s[0] != '_' && s[0] != '\\' {
		return false // the usual key, rejected at once
	}
	// name holds the decoded name since the last RenamePrefix. Every
	// reserved name is plain ASCII ('_' and lower case letters), which only
	// \u00XX can spell otherwise; no metadata name starts with RenamePrefix.
	var name [len(KeyBase64Field)]byte
	n := 0
	for i := 0; i < len(s); n++ {
		if n == len(name) {
			return false
		}
		c := s[i]
		if c != '\\' {
			i++
		} else {
			if s[i+1] != 'u' || s[i+2] != '0' || s[i+3] != '0' {
				return false
			}
			c = unhex(s[i+4])<<4 | unhex(s[i+5])
			i += 6
		}
		name[n] = c
		if n+1 == len(RenamePrefix) && string(name[:n+1]) == RenamePrefix {
			n = -1
		}
	}
	return isMetaName(name[:n])
}

// isMetaName reports whether s is the name of a member that Enrich adds.
func isMetaName(s []byte) bool {
	switch string(s) {
	case PayloadField, KeyField, KeyBase64Field, PartitionField, OffsetField, TimestampField, HeadersField:
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
