package pipetest

import (
	"context"
	"errors"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/plugin"
)

// runEmbedded runs case c through an in-process broker.
func runEmbedded(ctx context.Context, p *config.Pipeline, reg *plugin.Registry, c *Case) (*outcome, error) {
	return nil, errors.New("--broker embedded: not yet")
}
