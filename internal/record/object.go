package record

import (
	"unsafe"

	"github.com/tidwall/gjson"
)

// Members calls fn with each top-level member of the JSON object obj, in
// order: its name (unescaped), and its key (quotes included) and value as
// written, which refer to obj's memory. It stops when fn returns false,
// and returns false when obj is not an object. It does not validate what
// it skips.
func Members(obj []byte, fn func(name string, key, value []byte) bool) bool {
	s := unsafe.String(unsafe.SliceData(obj), len(obj))
	r := gjson.Parse(s)
	if !r.IsObject() {
		return false
	}
	r.ForEach(func(k, v gjson.Result) bool {
		return fn(k.Str, bytesOf(k.Raw), bytesOf(v.Raw))
	})
	return true
}

// Raw returns the value at p in rec as written, referring to rec's memory
// (unlike Path.Get's result), and whether it exists.
func (p Path) Raw(rec []byte) ([]byte, bool) {
	if p.gjson == "" {
		return nil, false
	}
	r := gjson.Get(unsafe.String(unsafe.SliceData(rec), len(rec)), p.gjson)
	return bytesOf(r.Raw), r.Exists()
}

func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
