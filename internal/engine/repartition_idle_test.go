package engine

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/state"
	"github.com/conveyor-etl/conveyor/internal/window"
	"github.com/conveyor-etl/conveyor/plugin"
)

// writtenRepartition records what is written to it.
type writtenRepartition struct {
	fakeRepartition
	writes [][]state.Message
}

func (w *writtenRepartition) Write(_ context.Context, msgs []state.Message) error {
	w.writes = append(w.writes, msgs)
	return nil
}

// The idle watch marks a held input partition idle once it has had no
// batch for the timeout (counted from when it is first held), with nothing
// to read; once only until its next batch; never while it lags.
func TestRepartitionIdleMarks(t *testing.T) {
	wr := &writtenRepartition{fakeRepartition: fakeRepartition{n: 3}}
	rp := &repartitioned{rp: wr, idle: 1000, writers: map[int32]*markWriter{}}
	ctx, log := context.Background(), zap.NewNop()
	parts := []plugin.PartitionProgress{{Partition: 0}, {Partition: 1, Behind: 5}}
	held := rp.markIdle(ctx, parts, nil, 10_000, log) // first held now
	held = rp.markIdle(ctx, parts, held, 10_999, log)
	if len(wr.writes) != 0 {
		t.Fatalf("%d writes before idle_timeout_ms passed", len(wr.writes))
	}
	rp.writer(0).max = 7000
	held = rp.markIdle(ctx, parts, held, 11_000, log)
	if len(wr.writes) != 1 || len(wr.writes[0]) != 3 {
		t.Fatalf("writes %v, want one idle mark to each of the 3 repartition partitions (partition 1 lags: none)", wr.writes)
	}
	for i, m := range wr.writes[0] {
		got, err := window.ParseMark(m.Headers[0].Value)
		if err != nil || m.Partition != int32(i) || m.Value != nil || got != (window.Mark{Input: 0, Max: 7000, Idle: true}) {
			t.Errorf("mark %d: partition %d value %q mark %+v (%v), want an idle mark of input 0 at 7000", i, m.Partition, m.Value, got, err)
		}
	}
	held = rp.markIdle(ctx, parts, held, 20_000, log)
	if len(wr.writes) != 1 {
		t.Fatalf("%d writes: the idle mark went out again without a batch between", len(wr.writes))
	}
	w := rp.writer(0) // a batch, as repartitionWriter records it
	w.last, w.idleSent = 20_000, false
	rp.markIdle(ctx, parts, held, 21_000, log)
	if len(wr.writes) != 2 {
		t.Fatalf("%d writes, want a second idle mark after the batch and another timeout", len(wr.writes))
	}
}
