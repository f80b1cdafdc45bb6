package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// avroInput is etlavro's input: gen's records in Avro, in the registry's
// wire format, under the subject <topic>-value.
type avroInput struct {
	topic      string
	end        map[int32]int64
	bytes      int64
	schemaFile string // the sink's schema (the same fields)
}

// seedAvroInput registers gen.AvroSchema and seeds the records, encoded
// by the sink's own encoder (internal/schema).
func (h *harness) seedAvroInput() error {
	a := &h.avro
	a.topic = h.name("avro-in")
	a.schemaFile, _ = filepath.Abs(filepath.Join(h.opt.out, "event.avsc"))
	h.files = append(h.files, a.schemaFile)
	if err := os.WriteFile(a.schemaFile, []byte(gen.AvroSchema), 0o644); err != nil {
		return err
	}
	reg, err := schema.NewRegistry(schema.RegistryConfig{URL: h.opt.registry})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := reg.Ping(ctx); err != nil {
		return fmt.Errorf("%w (start one with scripts/apicurio.sh up)", err)
	}
	enc, err := schema.NewEncoder(ctx, reg, schema.EncoderConfig{Format: schema.Avro, Subject: a.topic + "-value", Schema: gen.AvroSchema})
	if err != nil {
		return err
	}
	if err := h.createTopic(a.topic, nil); err != nil {
		return err
	}
	t0 := time.Now()
	var scratch []byte
	a.bytes, err = kit.SeedValues(h.brokers, a.topic, int32(h.opt.partitions), h.opt.records, func(dst []byte, i int64) ([]byte, error) {
		scratch = gen.Append(scratch[:0], i)
		return enc.Encode(dst, scratch)
	})
	if err != nil {
		return err
	}
	if a.end, err = h.admin.EndOffsets(a.topic); err != nil {
		return err
	}
	h.logf("seeded %s: %d Avro records, %.0f MB in %.1fs", a.topic, h.opt.records, float64(a.bytes)/1e6, time.Since(t0).Seconds())
	return nil
}

// avroSpec makes spec read and write Avro with the registry.
func (h *harness) avroSpec(spec childSpec) childSpec {
	reg := fmt.Sprintf("schema_registry_url = %q", h.opt.registry)
	spec.SourceOpts = append(slices.Clone(spec.SourceOpts), `value_format = "avro"`, reg)
	spec.SinkOpts = append(slices.Clone(spec.SinkOpts), `value_format = "avro"`, reg, fmt.Sprintf("schema_file = %q", h.avro.schemaFile))
	return spec
}

// pairedRate describes the ratios of name's records/s to etl's in the
// same round: their median and range.
func (h *harness) pairedRate(name string) string {
	return h.paired(name, func(r, e *result) (float64, bool) { return r.rate() / e.rate(), e.rate() > 0 })
}
