package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conveyor-etl/conveyor/plugin"
)

// shapeConfig is the config of orders.shape: one typed struct whose tags
// name, check and document its keys (see package plugin's doc).
type shapeConfig struct {
	Price string `key:"price" doc:"the number field holding the unit price"`
	Qty   string `key:"qty" doc:"the number field holding the quantity"`
	Into  string `key:"into" required:"true" doc:"the field to write price times qty to"`
}

// shapeSpec is the function "orders.shape", an operator.
func shapeSpec() *plugin.Spec {
	return &plugin.Spec{
		Name: "orders.shape", Plugin: "orders", Summary: "write price times qty to a field of each order",
		Operator: plugin.NewFactory(
			func() *shapeConfig { return &shapeConfig{Price: "price", Qty: "qty"} },
			func(_ context.Context, c *shapeConfig, _ plugin.Env) (plugin.Operator, error) { return shape(c), nil }),
	}
}

// shape sets c.Into to c.Price × c.Qty. A record without both as numbers
// fails, marked permanent: trying it again cannot help.
func shape(c *shapeConfig) plugin.OperatorFunc {
	return func(in, out []plugin.Record, fail func(int, error)) []plugin.Record {
		for i, r := range in {
			var v map[string]any
			if err := json.Unmarshal(r.Value, &v); err != nil {
				fail(i, plugin.Permanent(err))
				continue
			}
			price, ok1 := v[c.Price].(float64)
			qty, ok2 := v[c.Qty].(float64)
			if !ok1 || !ok2 {
				fail(i, plugin.Permanent(fmt.Errorf("want numbers in %q and %q, got %v and %v", c.Price, c.Qty, v[c.Price], v[c.Qty])))
				continue
			}
			v[c.Into] = price * qty
			b, err := json.Marshal(v) // a new value: the input's bytes may be shared
			if err != nil {
				fail(i, plugin.Permanent(err))
				continue
			}
			out = append(out, plugin.Record{Value: b, Offset: r.Offset})
		}
		return out
	}
}
