package plugin

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/conveyor-etl/conveyor/config"
)

// Factory builds one role of a function from its typed config.
type Factory[T any] struct {
	// Config returns a pointer to a fresh config struct holding the defaults;
	// [config.DecodeStage] fills it and [config.Describe] documents it.
	Config func() any
	// Build makes the component; cfg is what Config returned, decoded. ctx
	// bounds what building does (a source dialling its brokers) and ends
	// when the run is abandoned; a component must not keep it.
	Build func(ctx context.Context, cfg any, env Env) (T, error)
}

// NewFactory makes a Factory from a typed defaults function and builder.
func NewFactory[C any, T any](defaults func() *C, build func(context.Context, *C, Env) (T, error)) *Factory[T] {
	return &Factory[T]{
		Config: func() any { return defaults() },
		Build:  func(ctx context.Context, cfg any, env Env) (T, error) { return build(ctx, cfg.(*C), env) },
	}
}

// Spec describes a function a stage can name.
type Spec struct {
	Name string
	// Plugin is the name to list in [global].plugins ("kafka", "json", ...).
	Plugin string
	// Summary is one line for `conveyor list`.
	Summary string
	// Doc is optional help that `conveyor info` prints after the keys.
	Doc string
	// Check, when set, is a check of a stage's decoded config against the
	// rest of the pipeline (a file sink refusing the file a source reads),
	// run by Compile after every stage's own config is decoded. Its error is
	// reported at the stage.
	Check func(cfg any, st *config.Stage, p *config.Pipeline) error
	// Transactional, when set, says that the function's sources and sinks
	// can take part in a guarantee = "exactly-once" pipeline (one Kafka
	// transaction per instance; see config.Delivery). Given a stage's
	// decoded config it returns the cluster the stage reads or writes
	// (every stage of the pipeline must name the same) and, for a source,
	// the instance identity the transaction is named after (every source
	// must give the same); or a *config.FieldError naming the key that
	// rules the stage out, and why. Compile refuses the stages of a
	// function without it in such a pipeline.
	Transactional func(cfg any) (cluster, instance string, err error)
	// State, set for a function whose Operator is [Stateful], gives the
	// [StateOptions] of a stage's decoded config. Compile checks stateful
	// stages with it without building them (late = "dead_letter" needs a
	// dead-letter queue), and a run refuses a Stateful operator whose Spec
	// lacks it.
	State func(cfg any) StateOptions
	// At least one of these is set.
	Source   *Factory[Source]
	Operator *Factory[Operator]
	Sink     *Factory[Sink]
}

// Role is the part a stage plays in a pipeline.
type Role int

// The roles.
const (
	RoleSource Role = iota
	RoleOperator
	RoleSink
)

func (r Role) String() string {
	return [...]string{"source", "operator", "sink"}[r]
}

// RoleFor returns the role a stage with or without inputs plays, or an
// explanation when this function cannot play it.
func (s *Spec) RoleFor(hasInputs bool) (Role, error) {
	switch {
	case !hasInputs && s.Source != nil:
		return RoleSource, nil
	case !hasInputs:
		return 0, fmt.Errorf("%s needs inputs: it is a %s, not a source", s.Name, s.roles())
	case s.Operator != nil:
		return RoleOperator, nil
	case s.Sink != nil:
		return RoleSink, nil
	default:
		return 0, fmt.Errorf("%s is a source and takes no inputs", s.Name)
	}
}

func (s *Spec) roles() string {
	switch {
	case s.Operator != nil && s.Sink != nil:
		return "operator or sink"
	case s.Operator != nil:
		return "operator"
	default:
		return "sink"
	}
}

// Registry maps function names to specs. The zero value is not usable; use
// NewRegistry. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

// Register adds s; a second function with the same name is an error.
func (r *Registry) Register(s *Spec) error {
	if s.Name == "" || (s.Source == nil && s.Operator == nil && s.Sink == nil) {
		return fmt.Errorf("plugin: spec %q needs a name and at least one role", s.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Name]; dup {
		return fmt.Errorf("plugin: function %q registered twice", s.Name)
	}
	r.specs[s.Name] = s
	return nil
}

// Lookup returns the spec registered under name.
func (r *Registry) Lookup(name string) (*Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[name]
	return s, ok
}

// Names lists the registered functions, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.specs))
	for n := range r.specs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Plugins lists the plugin names of the registered functions, sorted.
func (r *Registry) Plugins() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, s := range r.specs {
		if s.Plugin != "" && !seen[s.Plugin] {
			seen[s.Plugin] = true
			out = append(out, s.Plugin)
		}
	}
	sort.Strings(out)
	return out
}

// Clone returns a registry holding the same specs, for adding to without
// touching the original.
func (r *Registry) Clone() *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := NewRegistry()
	for k, v := range r.specs {
		c.specs[k] = v
	}
	return c
}

var defaultRegistry = NewRegistry()

// Default is the registry the built-in functions add themselves to in init.
func Default() *Registry { return defaultRegistry }

// MustRegister adds specs to the default registry and panics on a
// duplicate; for init functions. Every built-in package registers the same
// way: func init() { plugin.MustRegister(Specs()...) }, with Specs listing
// one constructor per function (kafka.Spec, operators.FilterSpec, ...).
func MustRegister(specs ...*Spec) {
	for _, s := range specs {
		if err := defaultRegistry.Register(s); err != nil {
			panic(err)
		}
	}
}

// DecodeConfig decodes a stage's config for the factory f.
func DecodeConfig[T any](f *Factory[T], st *config.Stage) (any, error) {
	cfg := f.Config()
	return cfg, config.DecodeStage(st, cfg)
}
