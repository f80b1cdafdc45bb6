package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/plugin"
)

// readerNodes are the repartition topics' sources (see repartition.go).
func (r *run) readerNodes() []*node {
	out := make([]*node, 0, len(r.readers))
	for n := range r.readers {
		out = append(out, n)
	}
	return out
}

// noteRead records, for the reader of a repartition topic, how far msg's
// batch reaches in its partition.
func (rp *repartitioned) noteRead(msg *message.Message) {
	p, err := strconv.ParseInt(msg.Metadata.Get(plugin.MetaPartition), 10, 32)
	if err != nil {
		return
	}
	offs := msg.Metadata.Get(plugin.MetaOffsets)
	last, err := strconv.ParseInt(offs[strings.LastIndexAny(offs, "-,")+1:], 10, 64)
	if err != nil {
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.read[int32(p)] = max(rp.read[int32(p)], last+1)
}

// caughtUp reports whether the reader has taken every partition up to
// ends.
func (rp *repartitioned) caughtUp(ends map[int32]int64) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for p, end := range ends {
		if end > 0 && rp.read[p] < end {
			return false
		}
	}
	return true
}

// readerPoll is how often a reader whose upstream has ended checks that
// it has read the repartition topic to its end.
const readerPoll = 20 * time.Millisecond

// endReaders ends each repartition topic's reader once the input of its
// topic has: when every source above its stage is done (a bounded input
// ended, or a stop), it reads the topic up to the end offsets it has then,
// and stops, so that a bounded run with a repartition ends as one without.
// The returned func ends the watch.
func (r *run) endReaders() (stop func()) {
	done := make(chan struct{})
	for rn, s := range r.readers {
		go func() {
			for src, sv := range r.sources {
				if src == rn || !reaches(src, s.n) {
					continue
				}
				select {
				case <-sv.Done():
				case <-done:
					return
				}
			}
			ends, err := s.rep.rp.Ends()
			if err != nil {
				r.fatal(fmt.Errorf("stage %q: %w", s.n.st.ID, err))
				return
			}
			t := time.NewTicker(readerPoll)
			defer t.Stop()
			for !s.rep.caughtUp(ends) {
				select {
				case <-t.C:
				case <-r.sources[rn].Done():
					return
				case <-done:
					return
				}
			}
			r.log.Info("the input of the repartition topic ended and it is read to its end: stopping its reader", stageField(s.n.st), zap.String("topic", s.rep.rp.Topic()))
			r.sources[rn].Stop()
		}()
	}
	return func() { close(done) }
}
