package plugin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
)

// onFail learns each failed record's index in the batch and what the
// operator made of the others, and what it returns is what goes on: a
// record in the failed one's place keeps the batch's order.
func TestOperatorMiddlewarePassesOnWhatOnFailReturns(t *testing.T) {
	op := OperatorFunc(func(in, out []Record, fail func(int, error)) []Record {
		for i, r := range in {
			if string(r.Value) == "b" {
				fail(i, errors.New("no b"))
				continue
			}
			out = append(out, r)
		}
		return out
	})
	var seen []Failure
	mw := OperatorMiddleware(op, func(_ context.Context, _ Batch, out []Record, failed []Failure) ([]Record, error) {
		seen = failed
		res := append([]Record(nil), out[:1]...)
		res = append(res, Record{Value: []byte("B")})
		return append(res, out[1:]...), nil
	})
	var got []string
	h := mw(func(msg *message.Message) ([]*message.Message, error) {
		b, err := DecodeBatch(msg)
		if err != nil {
			return nil, err
		}
		for _, r := range b.Records {
			got = append(got, string(r.Value))
		}
		return nil, nil
	})
	in := Batch{Records: []Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}}.Message("u")
	if _, err := h(in); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Index != 1 || string(seen[0].Record.Value) != "b" {
		t.Errorf("onFail got %+v, want record b at index 1", seen)
	}
	if fmt.Sprint(got) != "[a B c]" {
		t.Errorf("the next handler got %v, want [a B c]", got)
	}
}
