package schema

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

// Local is one schema without a registry, for `conveyor test`: it checks
// that a record fits the schema and gives the record a reader of the
// written value would see. It is safe for concurrent use.
type Local struct {
	format string
	c      codec
}

// NewLocal compiles a schema's text in format (message: the Protobuf
// message, "" = the first).
func NewLocal(format, text, message string) (*Local, error) {
	typ, err := registryType(format)
	if err != nil {
		return nil, err
	}
	c, err := compile(format, sr.Schema{Schema: text, Type: typ}, message)
	if err != nil {
		return nil, err
	}
	return &Local{format: format, c: c}, nil
}

// FormatOf is the format of a schema file by its extension: .avsc Avro,
// .proto Protobuf, .json JSON Schema.
func FormatOf(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".avsc":
		return Avro, nil
	case ".proto":
		return Protobuf, nil
	case ".json":
		return JSONSchema, nil
	}
	return "", fmt.Errorf("schema file %s: want .avsc (Avro), .proto (Protobuf) or .json (JSON Schema)", path)
}

// RoundTrip appends to dst what rec becomes written with the schema and
// read back: the schema's fields only (defaults filled in), in their JSON
// form. A record that does not fit is an error naming the field.
func (l *Local) RoundTrip(dst, rec []byte) ([]byte, error) {
	bin, err := l.c.encode(nil, rec)
	if err != nil {
		return dst, err
	}
	return l.c.decode(dst, bin)
}

// AddID adds IDField with id to the JSON object rec, as a Decoder does.
func AddID(rec []byte, id int) []byte { return addID(rec, 0, id) }
