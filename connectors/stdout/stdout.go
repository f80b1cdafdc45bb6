// Package stdout is the "stdout.write" sink: records as JSON Lines on
// standard output, for quick looks at a pipeline.
package stdout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

func init() { plugin.MustRegister(Specs()...) }

// Specs are the functions this package registers.
func Specs() []*plugin.Spec { return []*plugin.Spec{Spec()} }

// Spec is the "stdout.write" function: a sink.
func Spec() *plugin.Spec {
	return &plugin.Spec{
		Name: "stdout.write", Plugin: "stdout", Summary: "print records as JSON Lines on standard output",
		Sink: plugin.NewFactory(DefaultConfig, func(_ context.Context, c *Config, _ plugin.Env) (plugin.Sink, error) {
			return New(os.Stdout, c), nil
		}),
	}
}

// Config is the config of "stdout.write".
type Config struct {
	Pretty bool `key:"pretty" doc:"indent each record"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{} }

// Sink writes records to a writer, one per line.
type Sink struct {
	mu     sync.Mutex
	w      *bufio.Writer
	pretty bool
}

// New makes a sink writing to w.
func New(w io.Writer, c *Config) *Sink { return &Sink{w: bufio.NewWriter(w), pretty: c.Pretty} }

// Publish prints the records of msgs and flushes.
func (s *Sink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}

// Send prints the records and flushes.
func (s *Sink) Send(_ context.Context, recs []plugin.Record) plugin.Pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ind bytes.Buffer
	for _, r := range recs {
		v := r.Value
		if s.pretty {
			ind.Reset()
			if json.Indent(&ind, v, "", "  ") == nil {
				v = ind.Bytes()
			}
		}
		s.w.Write(v)
		s.w.WriteByte('\n')
	}
	return plugin.Done{Err: s.w.Flush()}
}

// Close flushes what is left in the buffer.
func (s *Sink) Close() error { s.mu.Lock(); defer s.mu.Unlock(); return s.w.Flush() }
