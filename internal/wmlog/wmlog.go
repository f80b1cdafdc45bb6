// Package wmlog sends Watermill's logs to zap.
package wmlog

import (
	"os"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"go.uber.org/zap"
)

// watermillLogger sends Watermill's logs to zap, one level quieter: the
// router's info lines are debug detail for a Conveyor user.
type watermillLogger struct {
	l    *zap.Logger
	gate *gate // shared by With
}

// gate silences a logger for good (see Gated). A line is checked and
// written under the read lock, so that once silence has returned no line
// that began before it can still be written.
type gate struct {
	mu  sync.RWMutex
	off bool
}

// log runs write unless the gate is shut.
func (g *gate) log(write func()) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.off {
		write()
	}
}

func (g *gate) shut() {
	g.mu.Lock()
	g.off = true
	g.mu.Unlock()
}

// New returns a Watermill logger writing to l (named "watermill"). Trace
// lines go to l at debug level only when CONVEYOR_WATERMILL_TRACE is set.
func New(l *zap.Logger) watermill.LoggerAdapter {
	a, _ := Gated(l)
	return a
}

// Gated is New with a func that silences the logger, and every logger
// made from it with With, for good: a router's goroutines may still log as
// they end (a second Close says "Already closed") after the run that owns
// the router has returned to its caller, whose logger it is.
func Gated(l *zap.Logger) (watermill.LoggerAdapter, func()) {
	g := &gate{}
	return watermillLogger{l: l.Named("watermill"), gate: g}, g.shut
}

func fields(f watermill.LogFields) []zap.Field {
	out := make([]zap.Field, 0, len(f))
	for k, v := range f {
		if k == "not_sent_message" {
			continue // the router's dump of a whole failed batch: the runtime names what failed
		}
		out = append(out, zap.Any(k, v))
	}
	return out
}

func (w watermillLogger) Error(msg string, err error, f watermill.LogFields) {
	w.gate.log(func() {
		if strings.HasPrefix(msg, "All handlers stopped") {
			w.l.Debug(msg) // how every finished run ends, not a problem
			return
		}
		w.l.Warn(msg, append(fields(f), zap.Error(err))...)
	})
}
func (w watermillLogger) Info(msg string, f watermill.LogFields) { w.Debug(msg, f) }
func (w watermillLogger) Debug(msg string, f watermill.LogFields) {
	w.gate.log(func() { w.l.Debug(msg, fields(f)...) })
}
func (w watermillLogger) Trace(msg string, f watermill.LogFields) {
	if trace {
		w.Debug(msg, f)
	}
}

var trace = os.Getenv("CONVEYOR_WATERMILL_TRACE") != ""

func (w watermillLogger) With(f watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{l: w.l.With(fields(f)...), gate: w.gate}
}
