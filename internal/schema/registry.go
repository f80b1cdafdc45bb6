package schema

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/conveyor-etl/conveyor/internal/backoff"
)

// RegistryConfig says how to reach a Confluent-compatible schema registry.
type RegistryConfig struct {
	URL      string
	Username string
	Password string // never printed
	CAFile   string // PEM CAs for an https URL; "" = system roots
	// Retries is how many times a fetch that could not reach the registry
	// is tried again, Backoff and BackoffMax its waits (doubling).
	Retries             int
	Backoff, BackoffMax time.Duration
}

// Registry is a schema registry client that caches schemas by id. It is
// safe for concurrent use.
type Registry struct {
	cfg RegistryConfig
	cl  *sr.Client

	mu   sync.Mutex
	byID map[int]*fetched
}

// fetched is one schema id's fetch: done closes when schema or err is set.
type fetched struct {
	done   chan struct{}
	schema sr.Schema
	err    error
}

// NewRegistry makes a client of the registry cfg names. It does not
// connect: see Ping.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	opts := []sr.ClientOpt{sr.URLs(strings.TrimRight(cfg.URL, "/")), sr.UserAgent("conveyor")}
	if cfg.Username != "" || cfg.Password != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("schema registry tls_ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, sr.HTTPClient(&http.Client{Transport: tr, Timeout: 15 * time.Second}))
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", cfg.URL, err)
	}
	return &Registry{cfg: cfg, cl: cl, byID: map[int]*fetched{}}, nil
}

// URL is the registry's URL, for messages.
func (r *Registry) URL() string { return r.cfg.URL }

// Ping checks that the registry answers (its global compatibility level):
// the error names the URL.
func (r *Registry) Ping(ctx context.Context) error {
	res := r.cl.Compatibility(ctx)
	if len(res) == 1 && res[0].Err != nil {
		return fmt.Errorf("schema registry %s does not answer: %w", r.cfg.URL, res[0].Err)
	}
	return nil
}

// SchemaByID returns the schema registered under id, fetched once and
// cached. A fetch that cannot reach the registry is retried with backoff;
// an id the registry does not know is an error at once, and stays one.
func (r *Registry) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	r.mu.Lock()
	f, ok := r.byID[id]
	if !ok {
		f = &fetched{done: make(chan struct{})}
		r.byID[id] = f
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-f.done:
			return f.schema, f.err
		case <-ctx.Done():
			return sr.Schema{}, ctx.Err()
		}
	}
	f.schema, f.err = r.fetch(ctx, id)
	if f.err != nil && !permanent(f.err) {
		r.mu.Lock()
		delete(r.byID, id) // asked again by the next record
		r.mu.Unlock()
	}
	close(f.done)
	return f.schema, f.err
}

func (r *Registry) fetch(ctx context.Context, id int) (sr.Schema, error) {
	for try := 0; ; try++ {
		s, err := r.cl.SchemaByID(ctx, id)
		if err == nil {
			return s, nil
		}
		if permanent(err) || try >= r.cfg.Retries || ctx.Err() != nil {
			return s, fmt.Errorf("schema registry %s: schema id %d: %w", r.cfg.URL, id, err)
		}
		select {
		case <-time.After(backoff.Jitter(backoff.Exp(r.cfg.Backoff, r.cfg.BackoffMax, try), 0.2)):
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// permanent reports whether the registry answered err (a 4xx): asking
// again gives the same answer.
func permanent(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500
}

// Subject returns the schema the sink writes with under subject: text
// registered (if the registry does not have it, after checking that it is
// compatible with the subject's latest version), or the subject's latest
// version when text is "". An incompatible schema is refused with the
// registry's reasons.
func (r *Registry) Subject(ctx context.Context, subject string, typ sr.SchemaType, text string) (sr.SubjectSchema, error) {
	if text == "" {
		ss, err := r.cl.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			return ss, fmt.Errorf("schema registry %s: latest schema of subject %q: %w", r.cfg.URL, subject, err)
		}
		return ss, nil
	}
	s := sr.Schema{Schema: text, Type: typ}
	if ss, err := r.cl.LookupSchema(ctx, subject, s); err == nil {
		return ss, nil
	} else if !permanent(err) {
		return ss, fmt.Errorf("schema registry %s: subject %q: %w", r.cfg.URL, subject, err)
	}
	check, err := r.cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, -1, s)
	switch {
	case err != nil && !notFound(err):
		return sr.SubjectSchema{}, fmt.Errorf("schema registry %s: compatibility of the schema with subject %q: %w", r.cfg.URL, subject, err)
	case err == nil && !check.Is && len(check.Messages) > 0:
		return sr.SubjectSchema{}, r.refused(subject, strings.Join(check.Messages, "; "))
	}
	// Registering is safe when the check said no without a reason (as
	// Apicurio does): the registry applies its rule again, and refuses with
	// the reason.
	ss, err := r.cl.CreateSchema(ctx, subject, s)
	var re *sr.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == http.StatusConflict:
		return ss, r.refused(subject, re.Error())
	case err != nil:
		return ss, fmt.Errorf("schema registry %s: registering the schema under subject %q: %w", r.cfg.URL, subject, err)
	}
	return ss, nil
}

func (r *Registry) refused(subject, why string) error {
	return fmt.Errorf("schema registry %s refuses the schema for subject %q as incompatible with the subject's latest version: %s", r.cfg.URL, subject, why)
}

// notFound reports a 404: a subject without versions yet.
func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
