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
// ends. A partition it has read from but not up to its end, where it read
// nothing since the last call (seen), is asked whether what is left is
// only what a read_committed reader is never handed (Drained: the commit
// markers that end an exactly-once topic).
func (rp *repartitioned) caughtUp(ends, seen map[int32]int64) (bool, error) {
	rp.mu.Lock()
	read := make(map[int32]int64, len(ends))
	for p := range ends {
		read[p] = rp.read[p]
	}
	rp.mu.Unlock()
	up := true
	for p, end := range ends {
		at := read[p]
		if end <= 0 || at >= end {
			continue
		}
		last, ok := seen[p]
		seen[p] = at
		if at == 0 || !ok || last != at {
			up = false
			continue
		}
		drained, err := rp.rp.Drained(p, at, end)
		if err != nil {
			return false, err
		}
		if drained {
			ends[p] = at
		} else {
			up = false
		}
	}
	return up, nil
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
			seen := map[int32]int64{}
			for {
				up, err := s.rep.caughtUp(ends, seen)
				if err != nil {
					r.fatal(fmt.Errorf("stage %q: %w", s.n.st.ID, err))
					return
				}
				if up {
					break
				}
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
