// Command customcli is the conveyor command line with an operator of its
// own, "orders.shape": every command (run, validate, graph, info, lag, ...)
// knows it, as the built-in functions.
//
//	go run ./examples/customcli validate examples/customcli/orders.toml
//	go run ./examples/customcli run examples/customcli/orders.toml
package main

import (
	"context"
	"os"

	"github.com/conveyor-etl/conveyor/cli"
	"github.com/conveyor-etl/conveyor/flow"
)

func main() {
	reg := flow.Registry().Clone() // the built-in functions, in a registry of our own
	if err := reg.Register(shapeSpec()); err != nil {
		panic(err)
	}
	os.Exit(cli.Main(context.Background(), reg, os.Args[1:]))
}
