package kafka

import (
	"context"

	"github.com/IBM/sarama"
)

// A source under exactly-once commits no offsets itself: its marks go
// into the run's transaction (txn.go) with its group session's metadata.
// Its claims see a rewind (an aborted transaction) as the end of their
// session: rewindSession is the session they are handed.

// rewindSession is a group session whose Context also ends on a rewind.
type rewindSession struct {
	sarama.ConsumerGroupSession
	ctx context.Context
}

func (r *rewindSession) Context() context.Context { return r.ctx }

// startRewind makes the session's rewind context (in Setup): it ends
// when txnRewind is called, not when the session ends (a rebalance lets
// the batches in flight finish, and Cleanup commits them in a transaction).
// Claims' batches hang below it, so a rewind gives them up at once.
func (s *Source) startRewind(sess sarama.ConsumerGroupSession) {
	rw, cancel := context.WithCancel(s.ctx)
	ended, end := context.WithCancel(rw)
	context.AfterFunc(sess.Context(), end)
	s.mu.Lock()
	s.rewound, s.sessEnded, s.rewind = rw, ended, cancel
	s.mu.Unlock()
}

// claimSession is what a claim of sess reads with, and the context its
// batches hang below: under exactly-once, the session's end includes a
// rewind, and the batches end with a rewind.
func (s *Source) claimSession(sess sarama.ConsumerGroupSession) (sarama.ConsumerGroupSession, context.Context) {
	if s.txn == nil {
		return sess, s.ctx
	}
	s.mu.Lock()
	rw, ended := s.rewound, s.sessEnded
	s.mu.Unlock()
	return &rewindSession{ConsumerGroupSession: sess, ctx: ended}, rw
}

func (s *Source) txnOffsets() (*sarama.ConsumerGroupMetadata, string, map[int32]int64) {
	s.mu.Lock()
	sess := s.sess
	rewound := s.rewound
	s.mu.Unlock()
	if sess == nil || (rewound != nil && rewound.Err() != nil && !s.isStopped()) {
		return nil, "", nil
	}
	pending, _ := s.pending(sess)
	if len(pending) == 0 {
		return nil, "", nil
	}
	meta := &sarama.ConsumerGroupMetadata{GroupID: s.cfg.GroupID, GenerationID: sess.GenerationID(), MemberID: sess.MemberID()}
	if id := s.cfg.GroupInstanceID; id != "" {
		meta.GroupInstanceID = &id
	}
	return meta, s.cfg.Topic, pending
}

func (s *Source) txnCommitted(offsets map[int32]int64) {
	for p, off := range offsets {
		s.committedAt(p, off)
	}
}

// txnRewind ends the current session's claims: they give their batches
// up, the session ends and the next one reads from the committed offsets.
// The marks of the session are forgotten with its partitions' windows.
func (s *Source) txnRewind() {
	s.mu.Lock()
	cancel := s.rewind
	for p := range s.lanes {
		delete(s.lanes, p)
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

func (s *Source) txnFail(err error) { s.fail(err) }
