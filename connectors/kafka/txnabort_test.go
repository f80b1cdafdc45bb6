package kafka

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// fakeTxnProducer is a transactional sarama.AsyncProducer whose AbortTxn
// answers what the test says; nothing is written.
type fakeTxnProducer struct {
	sarama.AsyncProducer // not called: the methods below are all txn uses
	abortErr             error
	status               sarama.ProducerTxnStatusFlag
	succ                 chan *sarama.ProducerMessage
	errs                 chan *sarama.ProducerError
	once                 sync.Once
}

func newFakeTxnProducer(abortErr error, status sarama.ProducerTxnStatusFlag) *fakeTxnProducer {
	return &fakeTxnProducer{abortErr: abortErr, status: status,
		succ: make(chan *sarama.ProducerMessage), errs: make(chan *sarama.ProducerError)}
}

func (p *fakeTxnProducer) AbortTxn() error                           { return p.abortErr }
func (p *fakeTxnProducer) BeginTxn() error                           { return nil }
func (p *fakeTxnProducer) TxnStatus() sarama.ProducerTxnStatusFlag   { return p.status }
func (p *fakeTxnProducer) Successes() <-chan *sarama.ProducerMessage { return p.succ }
func (p *fakeTxnProducer) Errors() <-chan *sarama.ProducerError      { return p.errs }
func (p *fakeTxnProducer) AsyncClose() {
	p.once.Do(func() { close(p.succ); close(p.errs) })
}

// abortTxn is a txn whose build counts the producers it makes: each
// one is an InitProducerId, which takes the transactional.id from whoever
// holds it.
// Each producer it makes answers AbortTxn with next.
func abortTxn(builds *int, next error) *txn {
	t := &txn{id: "conveyor-test-a", log: zap.NewNop(), kick: make(chan struct{}, 1)}
	t.left, t.opened = sync.NewCond(&t.mu), sync.NewCond(&t.mu)
	t.build = func() (sarama.AsyncProducer, error) {
		*builds++
		return newFakeTxnProducer(next, sarama.ProducerTxnFlagInError|sarama.ProducerTxnFlagFatalError), nil
	}
	return t
}

// A producer left in a fatal state by a sibling's InitProducerId reports
// PRODUCER_FENCED only as its last error (AbortTxn returns it), while the
// transaction was spoiled by something else: the rebuild that used to
// follow took the transactional.id back and fenced the live sibling
// (TestIntegrationExactlyOnceFencedSibling, 1 run in 4 on real Kafka).
func TestTxnAbortNeverRebuildsAFencedProducer(t *testing.T) {
	builds := 0
	tx := abortTxn(&builds, nil)
	prod := newFakeTxnProducer(sarama.ErrProducerFenced, sarama.ProducerTxnFlagInError|sarama.ProducerTxnFlagFatalError)
	tx.prod = prod
	err := tx.abort(prod, errors.New("records were written but their source offsets are no longer held"))
	if err == nil || !strings.Contains(err.Error(), "this instance was fenced") || !errors.Is(err, sarama.ErrProducerFenced) {
		t.Fatalf("abort = %v, want the fenced error naming PRODUCER_FENCED", err)
	}
	if builds != 0 {
		t.Fatalf("abort made %d new producers after a fence, want 0 (each one fences the sibling)", builds)
	}
}

// The group saying FENCED_INSTANCE_ID (a sibling joined with this
// group_instance_id) is enough: no rebuild even if the producer itself
// has not been told yet.
func TestTxnAbortNeverRebuildsAfterTheGroupFenced(t *testing.T) {
	builds := 0
	tx := abortTxn(&builds, nil)
	prod := newFakeTxnProducer(errors.New("kafka: transaction manager: transition not allowed"), sarama.ProducerTxnFlagInError|sarama.ProducerTxnFlagFatalError)
	tx.prod = prod
	tx.noteFence(sarama.ErrFencedInstancedId)
	err := tx.abort(prod, errors.New("batch given up"))
	if !errors.Is(err, sarama.ErrFencedInstancedId) || builds != 0 {
		t.Fatalf("abort = %v with %d new producers, want the fenced error and none", err, builds)
	}
}

// A fatal error that says nothing of a fence rebuilds the producer once;
// failing again before any commit stops the run instead of taking the
// transactional.id once more, and a commit allows the next rebuild.
func TestTxnAbortRebuildsOnceUntilACommit(t *testing.T) {
	builds := 0
	odd := errors.New("kafka server: unexpected error")
	tx := abortTxn(&builds, odd)
	first := newFakeTxnProducer(odd, sarama.ProducerTxnFlagInError|sarama.ProducerTxnFlagFatalError)
	tx.prod = first
	if err := tx.abort(first, odd); err != nil || builds != 1 {
		t.Fatalf("first abort = %v with %d new producers, want nil and 1", err, builds)
	}
	err := tx.abort(tx.prod, odd)
	if err == nil || !strings.Contains(err.Error(), "failed again before any transaction committed") || builds != 1 {
		t.Fatalf("second abort = %v with %d new producers, want a stop and still 1", err, builds)
	}
	tx.reopen(nil, nil) // a transaction committed
	if err := tx.abort(tx.prod, odd); err != nil || builds != 2 {
		t.Fatalf("abort after a commit = %v with %d new producers, want nil and 2", err, builds)
	}
	tx.closeProducer(tx.prod)
}
