// Command embedded shows Conveyor inside a service: load a pipeline, run it
// with flow.Run, and let SIGINT/SIGTERM drain, commit and return.
//
//	go run ./examples/embedded examples/kafka-etl-example.toml
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
)

func main() {
	path := "examples/kafka-etl-example.toml"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	log, _ := zap.NewProduction()
	defer log.Sync() //nolint:errcheck

	// Cancelling ctx stops the sources, drains what is in flight, flushes
	// the sinks and commits, then Run returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := flow.Run(ctx, cfg, flow.WithLogger(log)); err != nil {
		log.Error("pipeline failed", zap.Error(err))
		os.Exit(1)
	}
}
