package pipetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/conveyor-etl/conveyor/flow"
)

func TestExamples(t *testing.T) {
	var out bytes.Buffer
	ok, err := Run(context.Background(), &out, []string{"../../examples"}, Options{Registry: flow.Registry()})
	t.Log(out.String())
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
}
