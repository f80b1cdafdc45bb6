package record

// EnrichObject closes the JSON object dst[start:], which a decoder wrote
// compact and valid (a schema registry value's record), with m's metadata
// members: what Enrich makes of that object, without checking and copying
// it again. m.ValueNull must be false.
func EnrichObject(dst []byte, start int, m Meta) []byte {
	if len(dst)-start == len("{}") {
		dst = dst[:len(dst)-1] // keep "{": no comma before the metadata
	} else {
		dst[len(dst)-1] = ','
	}
	return appendMeta(dst, m)
}
