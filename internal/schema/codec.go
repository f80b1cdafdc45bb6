package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// The formats of a value, as value_format names them.
const (
	Avro       = "avro"
	Protobuf   = "protobuf"
	JSONSchema = "json_schema"
)

// Metadata fields a decoded record gets.
const (
	IDField      = "_kafka_schema_id"      // the registry's id of the writer's schema
	MessageField = "_kafka_schema_message" // Protobuf: the full name of the message
)

// codec reads and writes the part of a value after the wire format's
// schema id, with one schema.
type codec interface {
	// decode appends the JSON form of body (for Protobuf, the message
	// indexes and then the message) to dst.
	decode(dst, body []byte) ([]byte, error)
	// encode appends rec, a JSON record, after the wire header of the
	// schema's id (and Protobuf's message indexes).
	encode(dst, rec []byte) ([]byte, error)
}

func registryType(format string) (sr.SchemaType, error) {
	switch format {
	case Avro:
		return sr.TypeAvro, nil
	case Protobuf:
		return sr.TypeProtobuf, nil
	case JSONSchema:
		return sr.TypeJSON, nil
	}
	return 0, fmt.Errorf("schema format %q: want avro, protobuf or json_schema", format)
}

// compile makes the codec of format for a schema's text. message names the
// Protobuf message an encoder writes ("" = the file's first).
func compile(format string, s sr.Schema, message string) (codec, error) {
	if len(s.References) > 0 {
		return nil, fmt.Errorf("schemas with references are not supported")
	}
	switch format {
	case Avro:
		n, err := compileAvro(s.Schema)
		if err != nil {
			return nil, err
		}
		return avroCodec{n}, nil
	case Protobuf:
		return compileProtobuf(s.Schema, message)
	case JSONSchema:
		return compileJSONSchema(s.Schema)
	}
	_, err := registryType(format)
	return nil, err
}

type avroCodec struct{ n *anode }

func (c avroCodec) decode(dst, body []byte) ([]byte, error) { return decodeAvro(dst, c.n, body) }

func (c avroCodec) encode(dst, rec []byte) ([]byte, error) {
	st := encStates.Get().(*encState)
	defer encStates.Put(st)
	return st.encode(dst, c.n, parseJSON(rec))
}

var encStates = sync.Pool{New: func() any { return new(encState) }}

// Decoder turns values in the wire format into JSON records, each with the
// schema its id names, fetched from the registry once. It is safe for
// concurrent use.
type Decoder struct {
	reg    *Registry
	format string

	mu     sync.RWMutex
	codecs map[int]codec
}

// NewDecoder returns a decoder of values in format with schemas from reg.
func NewDecoder(reg *Registry, format string) (*Decoder, error) {
	if _, err := registryType(format); err != nil {
		return nil, err
	}
	return &Decoder{reg: reg, format: format, codecs: map[int]codec{}}, nil
}

// Decode appends the JSON record of value to dst, compact and valid: for
// a value whose schema is a record (Avro), a message (Protobuf) or an
// object (JSON Schema), an object with IDField added. An error (a value not in the wire format, an
// id the registry does not know or could not be asked about, a value its
// schema does not read) says why; dst is then as it was.
func (d *Decoder) Decode(ctx context.Context, dst, value []byte) ([]byte, error) {
	start := len(dst)
	out, id, err := d.DecodeBare(ctx, dst, value)
	if err != nil {
		return out, err
	}
	return addID(out, start, id), nil
}

// DecodeBare is Decode without IDField: it appends the JSON form of value
// (any JSON value its schema gives, not only an object) to dst and returns
// the schema id apart, as a key's decoder needs it. On error dst is as it
// was.
func (d *Decoder) DecodeBare(ctx context.Context, dst, value []byte) (out []byte, id int, err error) {
	id, body, err := splitWire(value)
	if err != nil {
		return dst, 0, err
	}
	c, err := d.codec(ctx, id)
	if err != nil {
		return dst, 0, err
	}
	start := len(dst)
	out, err = c.decode(dst, body)
	if err != nil {
		return dst[:start], 0, fmt.Errorf("schema id %d: %w", id, err)
	}
	return out, id, nil
}

// addID adds IDField to the object out[start:] ends with.
func addID(out []byte, start, id int) []byte {
	if len(out) == start || out[len(out)-1] != '}' {
		return out // not an object: the source wraps it
	}
	out = out[:len(out)-1]
	if len(out)-start > 1 {
		out = append(out, ',')
	}
	out = append(out, `"`+IDField+`":`...)
	return append(strconv.AppendInt(out, int64(id), 10), '}')
}

func (d *Decoder) codec(ctx context.Context, id int) (codec, error) {
	d.mu.RLock()
	c, ok := d.codecs[id]
	d.mu.RUnlock()
	if ok {
		return c, nil
	}
	s, err := d.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if c, err = compile(d.format, s, ""); err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	d.mu.Lock()
	d.codecs[id] = c
	d.mu.Unlock()
	return c, nil
}

// EncoderConfig says what schema an Encoder writes with.
type EncoderConfig struct {
	Format  string
	Subject string
	// Schema is the schema's text, registered under Subject if the
	// registry does not have it there; "" writes with Subject's latest.
	Schema string
	// Message is the Protobuf message to write ("" = the first in the
	// schema's file).
	Message string
}

// Encoder turns JSON records into values in the wire format, with one
// schema. It is safe for concurrent use.
type Encoder struct {
	id      int
	version int
	c       codec
}

// NewEncoder registers or looks up cfg's schema in reg. An incompatible
// schema is refused with the registry's reasons.
func NewEncoder(ctx context.Context, reg *Registry, cfg EncoderConfig) (*Encoder, error) {
	typ, err := registryType(cfg.Format)
	if err != nil {
		return nil, err
	}
	if cfg.Schema != "" { // a schema that does not compile is ours to report, not the registry's
		if _, err := compile(cfg.Format, sr.Schema{Schema: cfg.Schema, Type: typ}, cfg.Message); err != nil {
			return nil, err
		}
	}
	ss, err := reg.Subject(ctx, cfg.Subject, typ, cfg.Schema)
	if err != nil {
		return nil, err
	}
	c, err := compile(cfg.Format, ss.Schema, cfg.Message)
	if err != nil {
		return nil, fmt.Errorf("subject %q version %d (id %d): %w", cfg.Subject, ss.Version, ss.ID, err)
	}
	return &Encoder{id: ss.ID, version: ss.Version, c: c}, nil
}

// ID is the registry's id of the schema the encoder writes with.
func (e *Encoder) ID() int { return e.id }

// Encode appends rec in the wire format to dst. A record that does not fit
// the schema is an error (a *FieldError for Avro) naming the field and
// what was expected; dst is then as it was.
func (e *Encoder) Encode(dst, rec []byte) ([]byte, error) {
	start := len(dst)
	out, err := e.c.encode(appendHeader(dst, e.id), rec)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// RecordName is the full name of the record a schema of format writes
// (Avro's record, Protobuf's message: message, or the first; JSON
// Schema's title), for the record_name subject strategies.
func RecordName(format, text, message string) (string, error) {
	switch format {
	case Avro:
		s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			return "", fmt.Errorf("avro schema: %w", err)
		}
		if n, ok := s.(avro.NamedSchema); ok {
			return n.FullName(), nil
		}
		return "", fmt.Errorf("avro schema: a %s has no name: the record_name strategies need a named type", s.Type())
	case Protobuf:
		c, err := compileProtobuf(text, message)
		if err != nil {
			return "", err
		}
		return string(c.(*protoCodec).write.FullName()), nil
	case JSONSchema:
		var doc struct {
			Title string `json:"title"`
		}
		if err := json.Unmarshal([]byte(text), &doc); err != nil || doc.Title == "" {
			return "", fmt.Errorf("json schema: the record_name strategies need the schema's \"title\"")
		}
		return doc.Title, nil
	}
	_, err := registryType(format)
	return "", err
}
