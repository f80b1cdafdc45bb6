package engine

import (
	"context"
	"fmt"

	"github.com/conveyor-etl/conveyor/plugin"
)

// load watches every operator that is a plugin.Loader (its readiness
// follows its loads from now on, a table partition loaded on demand too)
// and runs its Load, in file order, before any source starts: /readyz and
// the progress line say what is loading and how far it has got.
func (r *run) load(ctx context.Context) error {
	for _, n := range r.plan.nodes {
		if l, ok := r.ops[n].(plugin.Loader); ok {
			r.obs.Watch(n.st.ID, loaderReady{l})
		}
	}
	for _, n := range r.plan.nodes {
		if l, ok := r.ops[n].(plugin.Loader); ok {
			if err := l.Load(ctx); err != nil {
				return buildErr(n, err)
			}
		}
	}
	return nil
}

// loaderReady is a Loader's readiness: not ready while it loads.
type loaderReady struct{ l plugin.Loader }

// Ready implements plugin.HealthChecker.
func (lr loaderReady) Ready() error {
	if p := lr.l.Loading(); p.Parts > 0 {
		return fmt.Errorf("loading %s: %d partition(s) under way, %d of %d offsets read", p.What, p.Parts, p.Done, p.Total)
	}
	return nil
}
