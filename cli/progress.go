package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/flow"
)

// progressInterval is how often the progress line is redrawn, and
// lagInterval how often the kafka sources' lag is asked for.
const (
	progressInterval = time.Second
	lagInterval      = 5 * time.Second
)

// bounds is what a run is known to read in all, for an ETA.
type bounds struct {
	records int64 // the sum of the kafka sources' max_messages, when every source is one
	bytes   int64 // the sum of the json.read files' sizes, when every source is one
	lagEnds bool  // every source is kafka with until = "end" and no count limit: the lag at the start is what there is to read
}

// progress draws a one-line, redrawn-in-place progress report on a
// terminal: records in and out, the rate, the kafka sources' lag, and an
// ETA when the run is bounded. The logger writes through it (Writer), so a
// log line never lands in the middle of the progress line.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	shown  bool // the line is on the screen, the cursor at its end
	bounds bounds
	prev   flow.Summary // at the previous draw, for the rate

	lag atomic.Int64 // total lag, or -1 when unknown
	// toRead is, with until = "end", the records the run has to read in
	// all: the lag first seen plus what was read by then (committed
	// offsets trail what is read, so the lag alone is no measure of what
	// is left). 0 until known.
	toRead atomic.Int64
	stopLg func()
}

// newProgress returns the progress line of p's run, drawn on w, asking for
// the lag of p's kafka sources in the background until close.
func (a *app) newProgress(p *config.Pipeline, w io.Writer) *progress {
	pr := &progress{w: w, stopLg: func() {}}
	pr.lag.Store(-1)
	kafkas, files, others := a.runSources(p)
	switch {
	case others == 0 && len(files) == 0 && len(kafkas) > 0:
		pr.bounds.lagEnds = true
		limited := true
		for _, c := range kafkas {
			limited = limited && c.Limit() > 0
			pr.bounds.records += c.Limit()
			pr.bounds.lagEnds = pr.bounds.lagEnds && c.Until == kafka.UntilEnd && c.Limit() == 0
		}
		if !limited {
			pr.bounds.records = 0
		}
	case others == 0 && len(kafkas) == 0 && len(files) > 0:
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				pr.bounds.bytes += fi.Size()
			}
		}
	}
	if len(kafkas) > 0 {
		pr.stopLg = pr.watchLag(kafkas)
	}
	return pr
}

// runSources sorts p's source stages: kafka ones with their configs,
// json.read ones with their files, and how many others.
func (a *app) runSources(p *config.Pipeline) (kafkas []*kafka.SourceConfig, files []string, others int) {
	_, paths := a.jsonInputs(p)
	files = paths
	srcs, err := a.kafkaSources(p)
	if err == nil {
		for _, s := range srcs {
			kafkas = append(kafkas, s.cfg)
		}
	}
	for _, st := range p.Stages {
		if len(st.Inputs) == 0 && st.Function != "kafka" && st.Function != "json.read" {
			others++
		}
	}
	return kafkas, files, others
}

// watchLag asks for the sources' total lag now and every lagInterval, until
// the returned stop is called. stop does not wait for a question in flight
// (a broker that does not answer must not hold up the summary).
func (p *progress) watchLag(srcs []*kafka.SourceConfig) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		t := time.NewTicker(lagInterval)
		defer t.Stop()
		for {
			total := int64(0)
			for _, c := range srcs {
				lags, err := kafka.Lag(c, "")
				if err != nil {
					total = -1
					break
				}
				for _, l := range lags {
					total += l.Lag
				}
			}
			p.lag.Store(total)
			if total >= 0 && p.toRead.Load() == 0 {
				p.mu.Lock()
				p.toRead.Store(total + p.prev.In)
				p.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return cancel
}

// update draws s; it is flow.WithProgress's callback.
func (p *progress) update(s flow.Summary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.render(s, p.prev, p.lag.Load())
	p.prev = s
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.shown = true
}

// render is the progress line for s, with the rate since prev (or since
// the start when prev is zero) and lag (< 0: unknown).
func (p *progress) render(s, prev flow.Summary, lag int64) string {
	var rate float64
	if dt := (s.Elapsed - prev.Elapsed).Seconds(); dt > 0 {
		rate = float64(s.In-prev.In) / dt
	}
	parts := []string{
		fmt.Sprintf("in %s", count(s.In)),
		fmt.Sprintf("out %s", count(s.Out)),
		fmt.Sprintf("%s rec/s", count(int64(rate+0.5))),
	}
	if lag >= 0 {
		parts = append(parts, "lag "+count(lag))
	}
	if eta, ok := p.eta(s, rate, lag); ok {
		parts = append(parts, "ETA "+clock(eta))
	}
	for _, st := range s.Stages {
		if st.Restoring > 0 {
			parts = append(parts, fmt.Sprintf("restoring %s: %s/%s", st.ID, count(st.Restored), count(st.ToRestore)))
		}
		if st.Loading > 0 {
			parts = append(parts, fmt.Sprintf("loading %s: %s/%s", st.ID, count(st.Loaded), count(st.ToLoad)))
		}
	}
	parts = append(parts, clock(s.Elapsed))
	return strings.Join(parts, "  ")
}

// eta is the time left at rate, when the run is bounded.
func (p *progress) eta(s flow.Summary, rate float64, lag int64) (time.Duration, bool) {
	var left float64
	switch {
	case p.bounds.records > 0:
		left = float64(max(p.bounds.records-s.In, 0))
	case p.bounds.bytes > 0 && s.InBytes > 0:
		// Records' bytes run short of the file's (whitespace, the
		// array's brackets and commas): left in records, at the bytes
		// per record so far.
		perRecord := float64(s.InBytes) / float64(s.In)
		left = float64(max(p.bounds.bytes-s.InBytes, 0)) / perRecord
	case p.bounds.lagEnds && p.toRead.Load() > 0:
		left = float64(max(p.toRead.Load()-s.In, 0))
	default:
		return 0, false
	}
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(left / rate * float64(time.Second)), true
}

// count is n with thousands separators: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// clock is d as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	if sec >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	return fmt.Sprintf("%d:%02d", sec/60, sec%60)
}

// Write writes a log entry, first clearing the progress line (the next
// update draws it again below).
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	return p.w.Write(b)
}

// Sync is for zap's WriteSyncer.
func (p *progress) Sync() error { return nil }

func (p *progress) clearLocked() {
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// close stops asking for the lag and clears the line, for the summary.
func (p *progress) close() {
	p.stopLg()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}
