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

// newValueDecoder is the decoder of the source's values, nil for JSON. It
// asks the registry at once whether it answers: a registry down at start
// is an error naming its URL.
func newValueDecoder(cfg *SourceConfig, env plugin.Env) (*schema.Decoder, error) {
	if cfg.ValueFormat == "" || cfg.ValueFormat == FormatJSON {
		return nil, nil
	}
	reg, err := cfg.registry(registryRetries, registryBackoff, registryBackoffMax)
	if err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", env.Stage.ID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := reg.Ping(ctx); err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", env.Stage.ID, err)
	}
	return schema.NewDecoder(reg, cfg.ValueFormat)
}

// valueDecoder decodes one claim's values, with the claim's context (a
// fetch from the registry ends with it).
type valueDecoder struct {
	d       *schema.Decoder
	ctx     context.Context
	scratch []byte // the decoded value, reused: Enrich copies it
}

func bindDecoder(d *schema.Decoder, ctx context.Context) *valueDecoder {
	if d == nil {
		return nil
	}
	return &valueDecoder{d: d, ctx: ctx}
}

// enrich appends the record of value, as record.EnrichChecked does: with
// a value decoder, value is decoded first; one that does not decode is
// kept as base64 with why, and reported malformed, for the source's
// invalid key.
func (b *builder) enrich(dst, value []byte, meta record.Meta) ([]byte, bool) {
	if b.values == nil || value == nil {
		return record.EnrichChecked(dst, value, meta)
	}
	v := b.values
	var err error
	if v.scratch, err = v.d.Decode(v.ctx, v.scratch[:0], value); err == nil {
		return record.EnrichChecked(dst, v.scratch, meta)
	}
	v.scratch = record.AppendUndecodable(v.scratch[:0], value, err)
	w := v.scratch
	out, _ := record.EnrichChecked(dst, w, meta)
	return out, true
}
