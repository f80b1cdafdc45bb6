package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/schema"
	"github.com/conveyor-etl/conveyor/plugin"
)

// How often and how long a source retries a schema fetch that cannot
// reach the registry (as the sink's retries and retry_backoff_ms default
// to): the partition waits meanwhile; then the record goes by invalid.
const (
	registryRetries    = 60
	registryBackoff    = 100 * time.Millisecond
	registryBackoffMax = time.Second
)

// newDecoders are the decoders of the source's values and keys, each nil
// for JSON, sharing one registry client. It asks the registry at once
// whether it answers: a registry down at start is an error naming its URL.
func newDecoders(cfg *SourceConfig, env plugin.Env) (values, keys *schema.Decoder, err error) {
	if isJSON(cfg.ValueFormat) && isJSON(cfg.KeyFormat) {
		return nil, nil, nil
	}
	reg, err := cfg.registry(registryRetries, registryBackoff, registryBackoffMax)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka source %q: %w", env.Stage.ID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := reg.Ping(ctx); err != nil {
		return nil, nil, fmt.Errorf("kafka source %q: %w", env.Stage.ID, err)
	}
	if !isJSON(cfg.ValueFormat) {
		if values, err = schema.NewDecoder(reg, cfg.ValueFormat); err != nil {
			return nil, nil, err
		}
	}
	if !isJSON(cfg.KeyFormat) {
		if keys, err = schema.NewDecoder(reg, cfg.KeyFormat); err != nil {
			return nil, nil, err
		}
	}
	return values, keys, nil
}

// valueDecoder decodes one claim's values, with the claim's context (a
// fetch from the registry ends with it).
type valueDecoder struct {
	d       *schema.Decoder
	ctx     context.Context
	scratch []byte // a value (or key) to enrich, reused: Enrich copies it
}

func bindDecoder(d *schema.Decoder, ctx context.Context) *valueDecoder {
	if d == nil {
		return nil
	}
	return &valueDecoder{d: d, ctx: ctx}
}

// enrich appends the record of value, as record.EnrichChecked does: with
// a key decoder, meta's key (unless null) is decoded first into
// _kafka_key; with a value decoder, value is decoded, straight into dst. A
// value or key that does not decode makes the value kept as base64 with
// why (for a key, "key: " and why), reported malformed, for the source's
// invalid key.
func (b *builder) enrich(dst, value []byte, meta record.Meta) ([]byte, bool) {
	if b.keys != nil && !meta.KeyNull {
		k := b.keys
		var err error
		k.scratch, meta.KeySchemaID, err = k.d.DecodeBare(k.ctx, k.scratch[:0], meta.Key)
		if err != nil { // the key as it came (text or _base64), the value's bytes and why
			k.scratch = record.AppendUndecodable(k.scratch[:0], value, fmt.Errorf("key: %w", err))
			out, _ := record.EnrichChecked(dst, k.scratch, meta)
			return out, true
		}
		meta.KeyJSON = k.scratch
	}
	if b.values == nil || value == nil {
		return record.EnrichChecked(dst, value, meta)
	}
	v := b.values
	start := len(dst)
	out, err := v.d.Decode(v.ctx, dst, value)
	switch {
	case err == nil && out[start] == '{': // the usual: a record, compact
		return record.EnrichObject(out, start, meta), false
	case err == nil: // a schema that is not a record: wrapped as the spec wraps a JSON value
		v.scratch = append(v.scratch[:0], out[start:]...)
		return record.EnrichChecked(out[:start], v.scratch, meta)
	}
	v.scratch = record.AppendUndecodable(v.scratch[:0], value, err)
	out, _ = record.EnrichChecked(dst[:start], v.scratch, meta)
	return out, true
}

// recordSize guesses the bytes value takes in the batch, enriched: an
// Avro or Protobuf value decodes to JSON about twice its size (field
// names, quotes, digits), so that the batch's buffer, sized from the first
// record, does not grow record by record.
func (b *builder) recordSize(value []byte) int {
	if b.values != nil {
		return 2*len(value) + 96
	}
	return len(value) + 96
}
