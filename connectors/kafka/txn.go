package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Exactly-once (guarantee = "exactly-once") runs every record a run reads
// and writes through one Kafka transaction at a time, per instance:
//
//   - One transactional producer (txn) serves every kafka sink of the run,
//     the dead-letter topic included; its transactional.id is
//     transactional_id's prefix and the sources' group_instance_id, so a
//     restarted instance fences its old self.
//   - A batch enters the transaction (enter) when its source emits it and
//     leaves it (ticket.leave) when it is acked (its offsets marked in its
//     partition's window) or not (nacked, or given up by its claim).
//   - Every transaction_records records entered or transaction_ms, the
//     transaction closes (cycle): no batch may enter, the batches inside
//     finish, the sources' marked offsets are added with each group
//     session's metadata (TxnOffsetCommit, fenced by generation) and the
//     transaction commits; the committed offsets then free the windows.
//   - A batch that left without its ack, or any failed write, spoils the
//     transaction: every source's claims give their batches up at once,
//     their group sessions end, the transaction aborts (the producer is
//     rebuilt when the error is fatal to it), and the next sessions read
//     from the offsets of the last committed transaction. A claim is never
//     moved with ResetOffset.
//   - PRODUCER_FENCED means another live instance holds the same
//     transactional.id: this one stops with an error naming it.
//
// The hook for other writers (the changelog of stateful operators): a
// Sink made by NewSink with the stage's plugin.Env (its RunID and Delivery)
// under exactly-once writes through the run's transactional producer. What
// it writes while a batch is being handled, and waits for before the batch
// is acked, commits or aborts with the transaction that covers the batch
// (the batch is inside it from its emit to its ack); Close the Sink when the
// stage closes.

// txnParticipant is what a transaction covers besides the records written:
// a source's offsets. Its methods are called by one cycle at a time.
type txnParticipant interface {
	// txnOffsets returns the marked, not yet committed offsets (next to
	// read) of the source's current group session, by partition, with the
	// session's metadata; nil when there are none.
	txnOffsets() (*sarama.ConsumerGroupMetadata, string, map[int32]int64)
	// txnCommitted reports offsets a committed transaction covered.
	txnCommitted(offsets map[int32]int64)
	// txnRewind makes every claim give up its batches at once and end the
	// group session, so that the next session reads again from the
	// committed offsets. It returns without waiting for that.
	txnRewind()
	// txnFail stops the source with err.
	txnFail(err error)
}

// txn is a run's transaction (see above). Its methods are safe for
// concurrent use.
type txn struct {
	id       string
	records  int
	interval time.Duration
	log      *zap.Logger
	m        *txnMetrics
	build    func() (sarama.AsyncProducer, error) // a transactional producer; set by the first sink

	cycleMu sync.Mutex // one cycle at a time

	mu        sync.Mutex
	left      *sync.Cond // signalled when a batch leaves
	opened    *sync.Cond // broadcast when the transaction reopens
	prod      sarama.AsyncProducer
	readers   sync.WaitGroup // the goroutines reading prod's successes and errors
	closing   bool           // no batch may enter
	inside    int            // batches entered and not left
	n         int            // records entered this transaction
	began     time.Time
	closeCost time.Duration // what closing a transaction takes (noteCloseCost)
	spoiled   error         // why this transaction must abort
	fatal     error         // the run must stop (fenced); no more transactions
	fence     error         // the first sign that another instance took this identity
	rebuilt   bool          // the producer was rebuilt and has not committed since
	aborts    int           // aborts since the last commit
	parts     []txnParticipant
	refs      int
	runID     string
	kick      chan struct{}
	over      context.Context // ends when the last stage releases the transaction
	end       context.CancelFunc
	loopOnce  sync.Once
}

// maxAborts is how many transactions in a row may abort before the run
// stops: a record the broker refuses every time would otherwise be read,
// written and aborted for ever.
const maxAborts = 10

// runTxns are the transactions of the runs under way, by run id.
var runTxns = struct {
	sync.Mutex
	m map[string]*txn
}{m: map[string]*txn{}}

// acquireTxn returns the run's transaction, made on first use; release it.
func acquireTxn(env plugin.Env) *txn {
	runTxns.Lock()
	defer runTxns.Unlock()
	t := runTxns.m[env.RunID]
	if t == nil {
		t = &txn{records: env.Delivery.Records(), interval: env.Delivery.Interval(), runID: env.RunID,
			log: env.Logger.With(zap.String("component", "transaction")), kick: make(chan struct{}, 1)}
		t.over, t.end = context.WithCancel(context.Background())
		t.left, t.opened = sync.NewCond(&t.mu), sync.NewCond(&t.mu)
		t.m = newTxnMetrics(env.Registerer())
		runTxns.m[env.RunID] = t
	}
	t.refs++
	return t
}

// joinTxn is acquireTxn for a sink: the first sink's producer keys make
// the run's transactional producer.
func joinTxn(env plugin.Env, cfg *SinkConfig) (*txn, error) {
	t := acquireTxn(env)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.build != nil {
		return t, nil
	}
	t.build = func() (sarama.AsyncProducer, error) {
		sc, err := producerConfig(cfg, env)
		if err != nil {
			return nil, err
		}
		sc.Producer.Idempotent = true
		sc.Producer.Transaction.ID = t.id
		sc.Producer.Transaction.Retry.Max = 50
		sc.Producer.Transaction.Retry.Backoff = 100 * time.Millisecond
		sc.Producer.Transaction.Retry.BackoffFunc = txnBackoff
		p, err := sarama.NewAsyncProducer(cfg.Brokers, sc)
		if err != nil {
			return nil, reachError("sink", env.Stage.ID, &cfg.ClientConfig, err)
		}
		return p, nil
	}
	return t, nil
}

// txnBackoff is the wait before the retry-th retry of a transaction
// request: 5 ms doubling up to 100 ms. The common retry is the next
// transaction's first AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS
// while the coordinator still writes the last one's commit markers, which
// takes a few ms; sarama's 20 ms for it (100 ms for the others) left the
// new transaction's writes waiting longer than the markers took.
func txnBackoff(retries, _ int) time.Duration {
	return min(5*time.Millisecond<<min(retries, 5), 100*time.Millisecond)
}

// join adds a source to what the transactions cover; its instance (its
// group_instance_id) names the transactional producer (see
// config.Delivery.TxnID).
func (t *txn) join(p txnParticipant, env plugin.Env, instance string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.parts = append(t.parts, p)
	if t.id == "" {
		t.id = env.Delivery.TxnID(env.Name, instance)
	}
}

// start makes the producer and begins the first transaction, once; the
// run's stages have all joined by the time a source subscribes (every
// stage is built before the run starts). Sources call it before they join
// their group (see Source.startTxn), batches when they enter.
func (t *txn) start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.prod != nil || t.fatal != nil {
		return t.fatal
	}
	if t.build == nil {
		return errors.New("exactly-once: no kafka sink in the run")
	}
	if err := t.newProducer(); err != nil {
		t.fatal = err
		return err
	}
	t.loopOnce.Do(func() { go t.loop() })
	return nil
}

// newProducer builds the producer (InitProducerId: a transaction the
// previous producer of this transactional.id left open is aborted, and
// that producer fenced) and begins a transaction. Callers hold mu, and no
// batch is inside.
func (t *txn) newProducer() error {
	p, err := t.build()
	if err != nil {
		if fenced(err) {
			return t.fencedErr(err)
		}
		return fmt.Errorf("exactly-once: transactional producer %q: %w", t.id, err)
	}
	if err := p.BeginTxn(); err != nil {
		p.Close()
		return fmt.Errorf("exactly-once: transactional producer %q: begin: %w", t.id, err)
	}
	t.prod, t.began = p, time.Now()
	t.readers.Add(2)
	go t.readSuccesses(p)
	go t.readErrors(p)
	return nil
}

// input is where records of the open transaction are queued. A sink calls
// it while its batch is inside the transaction, so the producer is not
// replaced meanwhile.
func (t *txn) input() chan<- *sarama.ProducerMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.prod.Input()
}

// ticket is a batch inside a transaction.
type ticket struct {
	t    *txn
	once sync.Once
}

// enter lets a batch of n records into the open transaction, waiting while
// one closes, until ctx ends.
func (t *txn) enter(ctx context.Context, n int) (*ticket, error) {
	if err := t.start(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		t.opened.Broadcast()
		t.mu.Unlock()
	})
	defer stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.closing && t.fatal == nil && ctx.Err() == nil {
		t.opened.Wait()
	}
	switch {
	case t.fatal != nil:
		return nil, t.fatal
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	t.inside++
	t.n += n
	if t.n >= t.records && t.n-n < t.records {
		t.kickCycle()
	}
	return &ticket{t: t}, nil
}

// leave ends the batch's part in the transaction: acked (its offsets are
// marked), or not, which spoils the transaction.
func (k *ticket) leave(acked bool) {
	k.once.Do(func() {
		t := k.t
		if !acked {
			t.spoil(errors.New("a batch of the transaction was not written (nacked, or given up by its claim)"))
		}
		t.mu.Lock()
		t.inside--
		t.left.Broadcast()
		t.mu.Unlock()
	})
}

// spoil dooms the open transaction: no batch enters, the sources' claims
// give their batches up and their sessions end, and the cycle aborts.
func (t *txn) spoil(err error) {
	t.mu.Lock()
	first := t.spoiled == nil
	if first {
		t.spoiled, t.closing = err, true
	}
	parts := t.parts
	t.mu.Unlock()
	if !first {
		return
	}
	for _, p := range parts {
		p.txnRewind()
	}
	t.kickCycle()
}

func (t *txn) kickCycle() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// loop closes each transaction when due (see due): woken by a timer set
// to the next moment one may be due, by a batch that fills it, or by a
// spoil.
func (t *txn) loop() {
	timer := time.NewTimer(t.interval)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-t.kick:
		case <-t.over.Done():
			return
		}
		if wait := t.due(time.Now()); wait > 0 {
			timer.Reset(wait)
			continue
		}
		if err := t.cycle(t.over); err != nil && t.isFatal() {
			return
		}
		timer.Reset(t.interval)
	}
}

// closeShare bounds the share of a run's time that closing transactions
// take while a backlog fills them, to 1/closeShare: a transaction that
// holds transaction_records records stays open until it is closeShare-1
// times as old as the last closes took (never past transaction_ms).
const closeShare = 10

// due returns how long until the open transaction should close, 0 when it
// should now: at once when spoiled; transaction_ms after it began; or once
// it holds transaction_records records read, but not before it is
// (closeShare-1) times as old as a close costs (t.closeCost), so that under
// a backlog, where the records fill transactions faster than they can be
// closed, they grow instead of the run spending its time closing them.
// Latency is bounded by transaction_ms either way.
func (t *txn) due(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.spoiled != nil {
		return 0
	}
	age := now.Sub(t.began)
	if left := t.interval - age; left <= 0 || t.n < t.records {
		return max(left, 0)
	}
	return max(min(time.Duration(closeShare-1)*t.closeCost, t.interval)-age, 0)
}

func (t *txn) isFatal() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fatal != nil
}

// commitNow closes the open transaction and returns nil only when what
// was marked so far is committed: a stopping source's final commit.
func (t *txn) commitNow(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- t.cycle(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("exactly-once: final transaction: %w", ctx.Err())
	}
}

// cycle closes the open transaction: it commits it with the sources'
// marked offsets, or aborts it (spoiled, or the commit failed) and rewinds
// the sources; then it begins the next one. It returns the commit's or
// abort's error.
func (t *txn) cycle(ctx context.Context) error {
	t.cycleMu.Lock()
	defer t.cycleMu.Unlock()
	t.mu.Lock()
	if t.prod == nil || t.fatal != nil {
		err := t.fatal
		t.mu.Unlock()
		return err
	}
	t.closing = true
	closed := time.Now()
	wake := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		t.left.Broadcast()
		t.mu.Unlock()
	})
	defer wake()
	for t.inside > 0 && ctx.Err() == nil {
		t.left.Wait() // the batches inside finish: their writes and acks
	}
	if t.inside > 0 { // the caller gave up (a stop's deadline): leave it open
		t.closing = t.spoiled != nil
		t.opened.Broadcast()
		t.mu.Unlock()
		return ctx.Err()
	}
	prod, n, spoiled, parts, began := t.prod, t.n, t.spoiled, t.parts, t.began
	t.mu.Unlock()
	drained := time.Now()

	type covered struct {
		p       txnParticipant
		offsets map[int32]int64
	}
	var cover []covered
	err := spoiled
	if err == nil {
		for _, p := range parts {
			meta, topic, offs := p.txnOffsets()
			if len(offs) == 0 {
				continue
			}
			cover = append(cover, covered{p, offs})
			req := map[string][]*sarama.PartitionOffsetMetadata{}
			for part, off := range offs {
				req[topic] = append(req[topic], &sarama.PartitionOffsetMetadata{Partition: part, Offset: off, LeaderEpoch: -1})
			}
			if err = prod.AddOffsetsToTxnWithGroupMetadata(req, meta); err != nil {
				break
			}
		}
	}
	if err == nil && n > 0 && len(cover) == 0 {
		// records whose offsets were forgotten (their session is over):
		// committing them alone would duplicate them
		err = errors.New("records were written but their source offsets are no longer held")
	}
	if err == nil && n == 0 && len(cover) == 0 {
		t.reopen(nil, nil)
		return nil
	}
	// what a close costs, counted for the closes that end something (an
	// idle run's empty ones would make it look free)
	t.m.close.WithLabelValues("drain").Observe(drained.Sub(closed).Seconds())
	defer t.noteCloseCost(closed)
	if err == nil {
		err = prod.CommitTxn()
	}
	if err == nil {
		t.m.close.WithLabelValues("commit").Observe(time.Since(drained).Seconds())
		t.m.done(true, began, n)
		for _, c := range cover {
			c.p.txnCommitted(c.offsets)
		}
		t.reopen(nil, nil)
		return nil
	}
	t.m.done(false, began, n)
	if spoiled == nil { // the commit failed: rewind the sources
		for _, p := range parts {
			p.txnRewind()
		}
	}
	t.log.Warn("transaction aborted: the records read since the last commit will be read again", zap.String("transactional_id", t.id), zap.Error(err))
	t.reopen(err, t.abort(prod, err))
	return fmt.Errorf("exactly-once: transaction aborted: %w", err)
}

// noteCloseCost folds the time since closed (this cycle's drain and
// commit) into closeCost, a moving average over about 8 cycles.
func (t *txn) noteCloseCost(closed time.Time) {
	d := time.Since(closed)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closeCost == 0 {
		t.closeCost = d
		return
	}
	t.closeCost += (d - t.closeCost) / 8
}

// abort ends the failed transaction; with an error fatal to the producer
// it closes it and makes a new one (which fences and aborts the old). It
// returns an error that must stop the run, or nil.
//
// A rebuild must never fence a live sibling: a new producer's
// InitProducerId takes the transactional.id from whoever holds it. So it
// rebuilds only when nothing it saw says another instance took this
// identity: not why, not the producer's own last error (AbortTxn returns
// it when the producer is in a fatal state), not any write error or group
// error since (noteFence); and at most once until a transaction commits,
// so that an error it cannot classify never turns into two instances
// taking the identity from each other in turn.
func (t *txn) abort(prod sarama.AsyncProducer, why error) error {
	t.noteFence(why)
	if err := t.fenceSeen(); err != nil {
		return t.fencedErr(err)
	}
	err := prod.AbortTxn()
	if err == nil {
		return prod.BeginTxn()
	}
	t.noteFence(err)
	if f := t.fenceSeen(); f != nil {
		return t.fencedErr(f)
	}
	t.mu.Lock()
	again := t.rebuilt
	t.mu.Unlock()
	if again {
		return fmt.Errorf("exactly-once: the transactional producer %q failed again before any transaction committed since it was rebuilt (%w); stopping rather than taking the transactional.id once more", t.id, err)
	}
	t.log.Warn("transaction abort failed: making a new producer", zap.Error(err))
	t.closeProducer(prod)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prod, t.rebuilt = nil, true
	return t.newProducer()
}

// noteFence keeps the first error that says another instance took this
// identity (see fenced). Safe for concurrent use.
func (t *txn) noteFence(err error) {
	if err == nil || !fenced(err) {
		return
	}
	t.mu.Lock()
	if t.fence == nil {
		t.fence = err
	}
	t.mu.Unlock()
}

// fenceSeen returns the error noted by noteFence, or nil.
func (t *txn) fenceSeen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fence
}

// reopen begins taking batches again, after a cycle that committed or
// aborted (why). fatal, or too many aborts in a row, stops the run instead.
func (t *txn) reopen(why, fatal error) {
	t.mu.Lock()
	if why == nil {
		t.aborts, t.rebuilt = 0, false
	} else {
		t.aborts++
	}
	if fatal == nil && t.aborts >= maxAborts {
		fatal = fmt.Errorf("exactly-once: %d transactions in a row aborted, the last because %w", t.aborts, why)
	}
	if fatal == nil && t.prod != nil && t.prod.TxnStatus()&sarama.ProducerTxnFlagInTransaction == 0 {
		if err := t.prod.BeginTxn(); err != nil {
			fatal = fmt.Errorf("exactly-once: begin transaction: %w", err)
		}
	}
	t.fatal = fatal
	t.closing, t.spoiled, t.n, t.began = false, nil, 0, time.Now()
	parts := t.parts
	t.opened.Broadcast()
	t.mu.Unlock()
	if fatal != nil {
		t.log.Error("exactly-once: stopping", zap.Error(fatal))
		for _, p := range parts {
			p.txnFail(fatal)
		}
	}
}

// fenced reports an error that means another producer with this
// transactional.id has started since (a live sibling, or this instance's
// successor if it is the zombie). INVALID_TXN_STATE is one: a producer
// whose epoch another bumped gets it for the writes it had queued, and
// rebuilding on it would fence the sibling in turn, each instance fencing
// the other.
func fenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch) ||
		errors.Is(err, sarama.ErrFencedInstancedId) || errors.Is(err, sarama.ErrInvalidTxnState)
}

func (t *txn) fencedErr(err error) error {
	return mark(fmt.Errorf("exactly-once: this instance was fenced: another instance runs with transactional.id %q (the same group_instance_id): %w; it stops, writing nothing more (its open transaction is aborted)", t.id, err), ErrCommitRefused)
}

// readSuccesses settles the writes the broker acked.
func (t *txn) readSuccesses(p sarama.AsyncProducer) {
	defer t.readers.Done()
	for m := range p.Successes() {
		if pd, ok := m.Metadata.(*pending); ok {
			pd.settle()
		}
	}
}

// readErrors spoils the transaction on any failed write (sarama's
// transaction cannot commit after one), before the write reports it as
// cut off: the batch is read again, not failed under [error_handling].
// Draining Errors is also what lets CommitTxn's flush finish.
func (t *txn) readErrors(p sarama.AsyncProducer) {
	defer t.readers.Done()
	for e := range p.Errors() {
		t.noteFence(e.Err)
		t.spoil(fmt.Errorf("write to %s/%d failed: %w", e.Msg.Topic, e.Msg.Partition, e.Err))
		if pd, ok := e.Msg.Metadata.(*pending); ok {
			pd.fail(e.Msg, plugin.CutOff(fmt.Errorf("transaction aborted after a failed write: %w", e.Err)))
		}
	}
}

// closeProducer closes p and waits for its readers.
func (t *txn) closeProducer(p sarama.AsyncProducer) {
	p.AsyncClose()
	t.readers.Wait()
}

// release drops a stage's hold; the last one aborts what is still open
// (a run that ended without its final commit) and closes the producer.
func (t *txn) release() {
	runTxns.Lock()
	t.refs--
	last := t.refs == 0
	if last {
		delete(runTxns.m, t.runID)
	}
	runTxns.Unlock()
	if !last {
		return
	}
	t.end() // a cycle under way stops waiting for batches
	t.cycleMu.Lock()
	defer t.cycleMu.Unlock()
	t.mu.Lock()
	prod := t.prod
	t.prod, t.fatal = nil, errors.New("exactly-once: the run is over")
	t.opened.Broadcast()
	t.mu.Unlock()
	if prod == nil {
		return
	}
	if prod.TxnStatus()&sarama.ProducerTxnFlagInTransaction != 0 {
		_ = prod.AbortTxn()
	}
	t.closeProducer(prod)
}

// txnMetrics are the transactions' metrics.
type txnMetrics struct {
	total    *prometheus.CounterVec
	duration prometheus.Histogram
	records  prometheus.Histogram
	close    *prometheus.HistogramVec
}

func newTxnMetrics(reg prometheus.Registerer) *txnMetrics {
	m := &txnMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: telemetry.Transactions,
			Help: "Kafka transactions ended, by result (committed, aborted)"}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: telemetry.TransactionDuration,
			Help: "time from a transaction's begin to its commit or abort", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		records: prometheus.NewHistogram(prometheus.HistogramOpts{Name: telemetry.TransactionRecords,
			Help: "records read per transaction", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		close: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: telemetry.TransactionClose,
			Help:    "time a closing transaction lets no batch in, by phase: drain (the batches inside finish their writes) and commit (offsets, EndTxn)",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"phase"}),
	}
	for _, c := range []prometheus.Collector{m.total, m.duration, m.records, m.close} {
		_ = reg.Register(c)
	}
	return m
}

func (m *txnMetrics) done(committed bool, began time.Time, n int) {
	result := "aborted"
	if committed {
		result = "committed"
	}
	m.total.WithLabelValues(result).Inc()
	m.duration.Observe(time.Since(began).Seconds())
	m.records.Observe(float64(n))
}
