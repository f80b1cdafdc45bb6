package schema

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// jsonCodec is JSON Schema's: the value is the JSON text itself. Writing
// checks the record (less its top-level _kafka_* metadata) against the
// schema first.
type jsonCodec struct{ s *jsonschema.Schema }

func compileJSONSchema(text string) (codec, error) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	return jsonCodec{s}, nil
}

func (c jsonCodec) decode(dst, body []byte) ([]byte, error) {
	out, ok := record.AppendCompact(dst, body)
	if !ok {
		return dst, fmt.Errorf("json schema: the value is not valid JSON")
	}
	return out, nil
}

func (c jsonCodec) encode(dst, rec []byte) ([]byte, error) {
	start := len(dst)
	out, stripped := record.AppendWithout(dst, rec, func(name string, _ []byte) bool { return strings.HasPrefix(name, "_kafka_") })
	if !stripped { // no metadata, or not an object: the record as it is
		out = append(out, rec...)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out[start:]))
	if err != nil {
		return dst, fmt.Errorf("json schema: the record is not valid JSON: %w", err)
	}
	if err := c.s.Validate(inst); err != nil {
		return dst, fmt.Errorf("the record does not fit the JSON schema: %s", validationText(err))
	}
	return out, nil
}

// schemaURL is where the compiler finds the schema: no file of ours.
const schemaURL = "urn:conveyor:schema"

// validationText is a validation error's reasons on one line: "at
// '/amount': maximum: got 5,000, want 1,000", without the header naming
// the schema's URL.
func validationText(err error) string {
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "\n"); ok {
		msg = rest
	}
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}
