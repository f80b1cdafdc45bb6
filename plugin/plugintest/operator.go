package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

// OperatorCase describes an operator to check.
type OperatorCase struct {
	// New builds a fresh operator. It must give the same output for the
	// same input, call after call (the suite compares calls).
	New func(t testing.TB) plugin.Operator
	// Input is what the checks apply the operator to; choose records that
	// exercise it (some kept, some dropped, some failed). Empty: 200 of
	// the suite's records, {"seq":n,"pad":"x…"}.
	Input [][]byte
}

// TestOperator checks c's operator against plugin.Operator's contract, one
// subtest each:
//
//   - appends: Apply appends to out and keeps out's prefix; the records it
//     adds are those it returns for an empty out.
//   - fail-index: each index passed to fail is one of in's, at most once.
//   - keeps-no-slice: writing over in and out after Apply returns changes
//     neither what that call returned nor what later calls return.
//   - concurrent: Apply called from several goroutines at once, each on
//     its own part of the input, gives each the output a lone call gives
//     (run with -race).
//   - middleware: plugin.OperatorMiddleware over the operator hands the
//     next handler a batch message that plugin.DecodeBatch decodes into the
//     records Apply returns, with their offsets, and the input message's
//     UUID, origin, partition and other metadata.
//
// An operator that implements io.Closer is closed at the end of each check.
func TestOperator(t *testing.T, c OperatorCase) {
	t.Helper()
	runChecks(t, operatorChecks(c))
}

// CheckOperator runs TestOperator's checks outside a test and returns one
// error per check that failed, or nil.
func CheckOperator(c OperatorCase) error { return collectChecks(operatorChecks(c)) }

func operatorChecks(c OperatorCase) []check {
	in := c.Input
	if len(in) == 0 {
		in = seqRecords(-1, 200)
	}
	o := opChecker{c: c, in: in}
	return []check{
		{"appends", o.appends},
		{"fail-index", o.failIndex},
		{"keeps-no-slice", o.keepsNoSlice},
		{"concurrent", o.concurrent},
		{"middleware", o.middleware},
	}
}

type opChecker struct {
	c  OperatorCase
	in [][]byte
}

// applied is one call's result: what it returned past out's prefix, and
// the indexes it failed.
type applied struct {
	out    []plugin.Record
	failed []int
}

func (o opChecker) build(t testing.TB) plugin.Operator {
	op := o.c.New(t)
	if op == nil {
		t.Fatal("New returned no operator")
	}
	if cl, ok := op.(io.Closer); ok {
		t.Cleanup(func() {
			if !within(wait, func() { _ = cl.Close() }) {
				t.Errorf("Close did not return within %v", wait)
			}
		})
	}
	return op
}

// apply calls op on a fresh copy of the input with an empty out, and
// returns a deep copy of the result.
func (o opChecker) apply(op plugin.Operator) applied { return applyTo(op, o.in) }

// applyTo calls op on a fresh copy of vals with an empty out, and returns
// a deep copy of the result.
func applyTo(op plugin.Operator, vals [][]byte) applied {
	var a applied
	out := op.Apply(recordsOf(cloneValues(vals), 0), nil, func(i int, _ error) { a.failed = append(a.failed, i) })
	a.out = cloneRecords(out)
	return a
}

func (o opChecker) input() [][]byte { return cloneValues(o.in) }

func cloneValues(vals [][]byte) [][]byte {
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = bytes.Clone(v)
	}
	return out
}

// same reports how got differs from want, or "".
func same(got, want applied) string {
	if len(got.out) != len(want.out) {
		return fmt.Sprintf("%d records out, want %d", len(got.out), len(want.out))
	}
	for i := range got.out {
		if !bytes.Equal(got.out[i].Value, want.out[i].Value) || got.out[i].Offset != want.out[i].Offset {
			return fmt.Sprintf("record %d out is %s (offset %d), want %s (offset %d)", i,
				short(got.out[i].Value), got.out[i].Offset, short(want.out[i].Value), want.out[i].Offset)
		}
	}
	if fmt.Sprint(got.failed) != fmt.Sprint(want.failed) {
		return fmt.Sprintf("failed %v, want %v", got.failed, want.failed)
	}
	return ""
}

func (o opChecker) appends(t testing.TB) {
	op := o.build(t)
	want := o.apply(op)
	prefix := []plugin.Record{{Value: []byte(`{"prefix":0}`), Offset: 1000}, {Value: []byte(`{"prefix":1}`), Offset: 1001}}
	out := make([]plugin.Record, len(prefix), len(prefix)+len(o.in))
	copy(out, prefix)
	var got applied
	res := op.Apply(recordsOf(o.input(), 0), out, func(i int, _ error) { got.failed = append(got.failed, i) })
	if len(res) < len(prefix) {
		t.Fatalf("Apply returned %d records for an out holding %d: it must append to out", len(res), len(prefix))
	}
	for i, p := range prefix {
		if !bytes.Equal(res[i].Value, p.Value) || res[i].Offset != p.Offset {
			t.Errorf("Apply changed out[%d] from %s to %s: it must keep out's records and append after them", i, p.Value, short(res[i].Value))
		}
	}
	got.out = cloneRecords(res[len(prefix):])
	if d := same(got, want); d != "" {
		t.Errorf("Apply after a prefix in out added other records than Apply on an empty out: %s", d)
	}
}

func (o opChecker) failIndex(t testing.TB) {
	op := o.build(t)
	seen := map[int]bool{}
	op.Apply(recordsOf(o.input(), 0), nil, func(i int, err error) {
		switch {
		case i < 0 || i >= len(o.in):
			t.Errorf("fail(%d, %v): the index is not one of in's (0..%d)", i, err, len(o.in)-1)
		case seen[i]:
			t.Errorf("fail(%d, %v): record %d failed twice", i, err, i)
		case err == nil:
			t.Errorf("fail(%d, nil): a failure needs its error", i)
		}
		seen[i] = true
	})
}

func (o opChecker) keepsNoSlice(t testing.TB) {
	want := o.apply(o.build(t)) // from an operator of its own
	op := o.build(t)
	in := recordsOf(o.input(), 0)
	out := make([]plugin.Record, 0, len(in)+8)
	var failed []int
	res := op.Apply(in, out, func(i int, _ error) { failed = append(failed, i) })
	if d := same(applied{out: cloneRecords(res), failed: failed}, want); d != "" {
		t.Fatalf("two operators built alike gave other records for the same input (%s): New must build the same operator", d)
	}
	// Write over the slices Apply was handed (not the bytes of the
	// records: they are read-only and may be shared with what it returned).
	junk := plugin.Record{Value: []byte(`{"junk":true}`), Offset: -7}
	for i := range in {
		in[i] = junk
	}
	for i := range out[:cap(out)] {
		out[:cap(out)][i] = junk
	}
	if len(res) > 0 && &res[:cap(res)][0] != &out[:cap(out)][0] {
		// Apply grew a slice of its own: writing over out did not reach it.
		for i := range res {
			res[i] = junk
		}
	}
	for range 3 {
		if d := same(o.apply(op), want); d != "" {
			t.Fatalf("after the caller wrote over the in and out slices of an earlier Apply, a later Apply of the same input gave other records (%s): Apply must keep neither slice", d)
		}
	}
}

func (o opChecker) concurrent(t testing.TB) {
	op := o.build(t)
	// Each goroutine applies its own part of the input, so that calls
	// that share state show it in what they return.
	const goroutines, calls = 8, 20
	inputs := make([][][]byte, goroutines)
	wants := make([]applied, goroutines)
	for g := range goroutines {
		inputs[g] = o.in[g*len(o.in)/(2*goroutines):]
		wants[g] = applyTo(op, inputs[g])
	}
	var wg sync.WaitGroup
	diffs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if d := same(applyTo(op, inputs[g]), wants[g]); d != "" {
					diffs <- d
					return
				}
			}
		}()
	}
	wg.Wait()
	close(diffs)
	if d, ok := <-diffs; ok {
		t.Errorf("Apply called from %d goroutines at once, each on its own input, gave other records than a lone call: %s", goroutines, d)
	}
}

func (o opChecker) middleware(t testing.TB) {
	op := o.build(t)
	want := o.apply(op)
	var onFail []int
	mw := plugin.OperatorMiddleware(op, func(_ context.Context, b plugin.Batch, out []plugin.Record, failed []plugin.Failure) ([]plugin.Record, error) {
		for _, f := range failed {
			onFail = append(onFail, int(f.Record.Offset-100))
		}
		return out, nil
	})
	var got *message.Message
	h := mw(func(msg *message.Message) ([]*message.Message, error) { got = msg; return nil, nil })
	in := plugin.Batch{Records: recordsOf(o.input(), 100), Origin: "plugintest-origin", Partition: 7}.Message("plugintest-uuid")
	in.Metadata.Set("correlation_id", "plugintest-correlation")
	type ctxKey struct{}
	in.SetContext(context.WithValue(context.Background(), ctxKey{}, "plugintest-ctx"))
	if _, err := h(in); err != nil {
		t.Fatalf("the middleware failed the batch: %v", err)
	}
	if got == nil {
		t.Fatal("the middleware did not call the next handler")
	}
	b, err := plugin.DecodeBatch(got)
	if err != nil {
		t.Fatalf("the next handler got a message DecodeBatch refuses: %v", err)
	}
	for i := range want.out {
		want.out[i].Offset += 100 // the middleware's input starts at offset 100
	}
	if d := same(applied{out: cloneRecords(b.Records), failed: onFail}, want); d != "" {
		t.Errorf("the middleware's message holds other records than Apply returns: %s", d)
	}
	if got.UUID != in.UUID {
		t.Errorf("UUID %q, want the input's %q", got.UUID, in.UUID)
	}
	if b.Origin != "plugintest-origin" || b.Partition != 7 {
		t.Errorf("origin %q partition %d, want the input's plugintest-origin and 7", b.Origin, b.Partition)
	}
	if v := got.Metadata.Get("correlation_id"); v != "plugintest-correlation" {
		t.Errorf("metadata correlation_id = %q, want the input's plugintest-correlation", v)
	}
	if v, _ := got.Context().Value(ctxKey{}).(string); v != "plugintest-ctx" {
		t.Errorf("the message's context lost the input's values")
	}
}
