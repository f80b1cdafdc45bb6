package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/internal/backoff"
	"github.com/conveyor-etl/conveyor/internal/lane"
	"github.com/conveyor-etl/conveyor/internal/lifecycle"
	"github.com/conveyor-etl/conveyor/internal/schema"
	"github.com/conveyor-etl/conveyor/internal/telemetry"
	"github.com/conveyor-etl/conveyor/plugin"
)

// Source is the batching Kafka source; it implements plugin.Source and so
// message.Subscriber.
type Source struct {
	cfg    *SourceConfig
	env    plugin.Env
	log    *zap.Logger
	client sarama.Client
	group  sarama.ConsumerGroup
	values *schema.Decoder // value_format's; nil for JSON
	keys   *schema.Decoder // key_format's; nil for JSON

	ctx    context.Context // ends consuming; cancelled by Close
	cancel context.CancelFunc
	out    chan *message.Message

	budget atomic.Int64 // records left in a bounded run
	behind atomic.Int64 // with until = "end", the session's partitions not yet read to their end; see caughtUp

	// life is the stop, the error, the claim loops still reading (Join)
	// and the batches in flight (the lanes' Begin and Settle).
	life *lifecycle.State
	// halted ends when Stop is called (not when a bounded run ends by
	// itself): it ends a claim's wait for room to emit a batch.
	halted context.Context
	halt   context.CancelFunc

	mu    sync.Mutex
	sess  sarama.ConsumerGroupSession
	lanes map[int32]*lane.Lane // one owner per partition, read to commit; see lane
	lost  map[int32]int64      // marks given up when a stopped source's partition went elsewhere

	// turns stamp each batch with its turn as its lane admits it (the
	// runtime's, from Subscribe's context; nil outside a pipeline).
	turns *lane.Turns
	// committer takes the offsets the lanes made committable: the group's
	// offset commit (groupCommitter) unless exactly-once replaces it.
	committer lane.Committer
	commits   *commitConn   // the coordinator connection that carries the group's commits
	kick      chan struct{} // a batch was marked: commit soon
	sendMu    sync.Mutex    // one commit request at a time, so they land in order
	newSess   chan struct{} // closed and replaced when a session starts
	// noCommits is closed when the commit loop gives up: nothing waits for
	// a commit after that.
	noCommits   chan struct{}
	commitsOver sync.Once
	assigned    chan struct{} // closed when the group first gives this member partitions
	assign      sync.Once

	consumed   chan struct{} // closed when the consume loop has returned
	outOnce    sync.Once     // closes out; see closeOut
	closeOnce  sync.Once
	records    atomic.Int64
	bytes      atomic.Int64
	subscribed atomic.Bool
	obs        *sourceObs // metrics and readiness; see metrics.go

	// txn is the run's transaction under exactly-once (txnsource.go);
	// rewound ends with the session or its rewind, which rewind calls.
	txn       *txn
	rewound   context.Context // ends on a rewind
	sessEnded context.Context // ends on a rewind or with the session
	rewind    context.CancelFunc

	// asMessage, when set, makes each record a message of its own, as it
	// was published, instead of batches of enriched records: the message
	// mode of Subscriber (see pubsub.go).
	asMessage func(*sarama.ConsumerMessage) *message.Message
}

// NewSource connects to the brokers and joins nothing yet: the group is
// joined on Subscribe.
func NewSource(cfg *SourceConfig, env plugin.Env) (*Source, error) {
	values, keys, err := newDecoders(cfg, env)
	if err != nil {
		return nil, err
	}
	sc, err := cfg.saramaConfig()
	if err != nil {
		return nil, err
	}
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.AutoCommit.Enable = false // committed by us, only what was acked
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if cfg.StartOffset == "latest" {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	sc.Consumer.MaxProcessingTime = time.Second
	// A fetch with nothing new to return waits this long on the broker
	// (one returns as soon as there is a record). Commits no longer wait
	// behind it (they have a connection of their own: commitConn), but
	// closing does: sarama lets a claim go only once the fetch in flight
	// has returned, so a bounded run that has read everything waited up to
	// this long to end. 50 ms rather than 100 halves that for 10 more empty
	// fetches a second while idle.
	sc.Consumer.MaxWaitTime = 50 * time.Millisecond
	sc.Consumer.Fetch.Default = int32(cmp.Or(cfg.FetchPartitionBytes, 1<<20))
	// Fetch.MaxBytes (per request) is set in Subscribe, from the run's
	// budget: see fetchBytes. A queue of 256 records
	// per partition instead of 1024 saved little memory once fetches were
	// small, and cost 0-20% of Example 3's rate.
	sc.ChannelBufferSize = 1024
	sc.Consumer.Group.Session.Timeout = cfg.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = cfg.SessionTimeout / 3
	// A member has this long to rejoin after a rebalance starts; it only has
	// to drain its in-flight batches first.
	sc.Consumer.Group.Rebalance.Timeout = cfg.DrainTimeout + 5*time.Second
	sc.Consumer.Group.InstanceId = cfg.GroupInstanceID
	if cfg.IsolationLevel == "read_committed" || env.Delivery.ExactlyOnce() {
		sc.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	switch cfg.Rebalance {
	case "roundrobin":
		sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
	case "sticky":
		sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	default:
		sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	}
	client, err := sarama.NewClient(cfg.Brokers, sc)
	if err != nil {
		return nil, reachError("source", env.Stage.ID, &cfg.ClientConfig, err)
	}
	group, err := sarama.NewConsumerGroupFromClient(cfg.GroupID, client)
	if err != nil {
		client.Close()
		return nil, reachError("source", env.Stage.ID, &cfg.ClientConfig, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Source{cfg: cfg, env: env, log: env.Logger.With(zap.String("topic", cfg.Topic), zap.String("group", cfg.GroupID)),
		client: client, group: group, commits: newCommitConn(client, cfg.GroupID), ctx: ctx, cancel: cancel,
		out: make(chan *message.Message), kick: make(chan struct{}, 1), life: lifecycle.New(), consumed: make(chan struct{}),
		lanes: map[int32]*lane.Lane{}, assigned: make(chan struct{}), newSess: make(chan struct{}), noCommits: make(chan struct{})}
	s.committer = groupCommitter{s}
	s.halted, s.halt = context.WithCancel(context.Background())
	s.budget.Store(cfg.Limit())
	s.values, s.keys = values, keys
	s.obs = newSourceObs()
	s.obs.m = telemetry.NewKafkaSource(env.Registerer(), s.kafkaPartitions)
	if env.Delivery.ExactlyOnce() {
		s.txn = acquireTxn(env)
		s.txn.join(s, env, cfg.GroupInstanceID)
	}
	return s, nil
}

// Subscribe starts consuming; topic is ignored (the stage's topic is used).
func (s *Source) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	if err := s.checkTopic(ctx); err != nil {
		return nil, err
	}
	makePatient(s.client)
	s.client.Config().Consumer.Fetch.MaxBytes = int32(s.fetchBytes())
	if !s.subscribed.CompareAndSwap(false, true) {
		return nil, errors.New("kafka source: Subscribe called twice")
	}
	if s.asMessage == nil { // a message-mode Subscriber's records are not the runtime's batches
		s.turns = lane.TurnsFrom(ctx)
	}
	if d := s.cfg.Deadline(); d > 0 {
		go runDeadline(bounded{cfg: s.cfg, stageID: s.env.Stage.ID, log: s.log, assigned: s.assigned, stopped: s.life.Stopping(), stop: s.finish, fail: s.fail}, d)
	}
	go s.logErrors()
	go s.consume()
	return s.out, nil
}

// fetchBytes is fetch_max_bytes, or when it is 0 (auto) an eighth of the
// run's in-flight budget, at least one partition's fetch. What sarama holds
// grows with the bytes a fetch brings (a decoded record keeps its whole
// fetch response alive while it waits in its partition's queue): 1 MiB
// from each of 60 partitions held 620 MB while the run's own batches were
// bounded to 64 MiB. Bounding the request rather than each partition keeps
// 1 MiB partition fetches, which cost less CPU per record than small ones
// (fewer, larger record batches decoded per request; benchmarks/RESULTS.md),
// and leaves a few partitions' fetches (6 × 1 MiB) as they were.
func (s *Source) fetchBytes() int {
	if s.cfg.FetchMaxBytes > 0 {
		return s.cfg.FetchMaxBytes
	}
	part := cmp.Or(s.cfg.FetchPartitionBytes, 1<<20)
	if s.env.Budget.Total() == 0 {
		return max(50<<20, part) // Kafka's default
	}
	return int(max(s.env.Budget.Total()/8, int64(part)))
}

func (s *Source) consume() {
	defer close(s.consumed)
	defer s.closeOut()
	if !s.startTxn() {
		return
	}
	h := &groupHandler{s: s}
	retry := 0
	// A stopped source rejoins only while it holds acked offsets that are
	// not committed, so that Commit has a session to commit them in; its
	// claims then read nothing.
	for s.ctx.Err() == nil && (!s.isStopped() || s.hasPending()) {
		err := s.group.Consume(s.ctx, []string{s.cfg.Topic}, h)
		switch {
		case s.ctx.Err() != nil, errors.Is(err, sarama.ErrClosedConsumerGroup):
			return
		case s.txn != nil && errors.Is(err, sarama.ErrFencedInstancedId):
			// Under exactly-once a live sibling joined with this
			// group_instance_id, so it runs with this transactional.id too:
			// stop with the fenced error instead of rejoining every few
			// seconds against it.
			s.txn.noteFence(err)
			s.fail(s.txn.fencedErr(err))
			return
		case groupConfigError(err) != "":
			s.fail(mark(fmt.Errorf("kafka source %q: consumer group %q: %s: %w", s.env.Stage.ID, s.cfg.GroupID, groupConfigError(err), err),
				append([]error{ErrGroupRefused}, accessKind(err)...)...))
			return
		case err != nil:
			retry++
			wait := backoff.Exp(100*time.Millisecond, 5*time.Second, retry)
			s.log.Warn("consumer group error, retrying", zap.Error(err), zap.Duration("backoff", wait))
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return
			}
		default:
			retry = 0
		}
	}
}

// startTxn makes the run's transactional producer before the group is
// joined, under exactly-once; false when the source failed. Its
// InitProducerId aborts what a killed predecessor of this instance (same
// transactional.id) left open, its TxnOffsetCommit included: until then the
// group's offsets are unstable, and a read_committed member's offset fetch
// (sarama asks for stable offsets) gets no partition's offset. Made only
// when the first batch entered, that producer waited for a session that
// waited for it, until the broker timed the transaction out (a minute).
func (s *Source) startTxn() bool {
	if s.txn == nil {
		return true
	}
	if err := s.txn.start(); err != nil {
		s.fail(err)
		return false
	}
	return true
}

// groupConfigError says what to change when the broker refuses the group
// for a reason that retrying will not fix; "" for any other error.
func groupConfigError(err error) string {
	switch {
	case errors.Is(err, sarama.ErrInvalidSessionTimeout):
		return "session_timeout_ms is outside the range the broker allows (its group.min.session.timeout.ms to group.max.session.timeout.ms, 6000 to 1800000 by default)"
	case errors.Is(err, sarama.ErrInconsistentGroupProtocol):
		return "its members use another assignment strategy or another kind of client; set rebalance to what they use, or pick another group_id"
	case errors.Is(err, sarama.ErrInvalidGroupId):
		return "the broker does not accept this group_id"
	case errors.Is(err, sarama.ErrGroupAuthorizationFailed):
		return "not authorized: grant this principal READ on the group"
	case errors.Is(err, sarama.ErrTopicAuthorizationFailed):
		return "not authorized: grant this principal READ and DESCRIBE on the topic"
	}
	return ""
}

func (s *Source) logErrors() {
	for err := range s.group.Errors() {
		s.log.Warn("consumer error", zap.Error(err))
	}
}

// Stop ends reading at once: a batch not emitted yet (still filling, or
// waiting for room in its partition's window or the run's in-flight budget
// while commits are refused or slow) is not emitted, not counted and not
// committed; the next run reads it again. Done closes once everything
// emitted is acked or nacked.
func (s *Source) Stop() {
	s.halt()
	s.finish()
}

// finish ends reading as Stop does, but a claim waiting for room keeps
// waiting: it is how the source ends a bounded run by itself (max_messages
// reached, until = "end", timeout_ms), where every batch taken within the
// bound must still be emitted.
func (s *Source) finish() {
	s.life.Stop()
	s.life.Finish()
}

// Done is closed when the source has stopped, its claims read no more and
// every batch it emitted has been acked or nacked (or given up).
func (s *Source) Done() <-chan struct{} { return s.life.Done() }

// Err is why the source failed, or nil.
func (s *Source) Err() error { return s.life.Err() }

func (s *Source) fail(err error) {
	s.life.Fail(err)
	s.Stop()
}

// DrainTimeout is drain_timeout_ms: how long a stop may take.
func (s *Source) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// Stats reports the records emitted so far.
func (s *Source) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// Commit commits every offset acked so far (in order per partition) and
// returns nil only when the group coordinator confirmed each one. It needs
// the group session to be alive, which it is until Close unless the group
// rebalanced after the source stopped: then the records acked since the
// last commit will be read again, and Commit says which.
//
// With nothing acked left uncommitted, Commit returns at once: it neither
// waits for a session nor for a commit in flight (with the brokers gone,
// either takes minutes), since there is nothing to commit.
func (s *Source) Commit(ctx context.Context) error {
	if s.txn != nil {
		return s.txn.commitNow(ctx)
	}
	if !s.hasPending() {
		return s.lostErr()
	}
	sess := s.liveSession(ctx)
	if sess == nil {
		return nil
	}
	for attempt := 1; ; attempt++ {
		pending, err := s.commitPending(ctx, sess)
		switch {
		case err == nil && len(pending) == 0:
			return s.lostErr()
		case err == nil:
			continue
		case errors.Is(err, errSessionOver):
			// the member rejoins to commit (see consume): commit there
			if next := s.liveSession(ctx); next != sess && next.Context().Err() == nil {
				sess = next
				continue
			}
			return mark(fmt.Errorf("kafka source %q: the group rebalanced before the final commit (%v); records acked on partition(s) %s were not committed and will be read again",
				s.env.Stage.ID, err, partitionList(pending)), ErrCommitRefused)
		case ctx.Err() != nil:
			return fmt.Errorf("kafka source %q: final commit: %w", s.env.Stage.ID, ctx.Err())
		case attempt == 3:
			return mark(fmt.Errorf("kafka source %q: the broker did not take the final commit of partition(s) %s: %w; those records will be read again", s.env.Stage.ID, partitionList(pending), err),
				append([]error{ErrCommitRefused}, accessKind(err)...)...)
		}
		s.log.Warn("final commit not confirmed yet, committing again", zap.String("partitions", partitionList(pending)), zap.Error(err))
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("kafka source %q: final commit of partition(s) %s: %w", s.env.Stage.ID, partitionList(pending), ctx.Err())
		}
	}
}

// lane returns partition's lane, making it when new. Its mark survives
// until it is committed: a new session keeps what an old one left.
func (s *Source) lane(partition int32) *lane.Lane {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lanes[partition]
	if l == nil {
		l = lane.New(lane.Config{Stage: s.env.Stage.ID, Topic: s.cfg.Topic, Partition: partition, Window: s.cfg.Window,
			Budget: s.env.Budget, Life: s.life, Marked: s.kickCommit, Failed: s.fail, Turns: s.turns})
		s.lanes[partition] = l
	}
	return l
}

// committedAt records a commit the committer confirmed: the batches it
// covers leave the partition's lane.
func (s *Source) committedAt(partition int32, next int64) {
	s.mu.Lock()
	l := s.lanes[partition]
	s.mu.Unlock()
	if l != nil {
		l.Committed(next)
	}
	s.obs.committed(partition, next)
}

// liveSession returns the group session, waiting while the member rejoins
// after a rebalance (see consume), until ctx ends.
func (s *Source) liveSession(ctx context.Context) sarama.ConsumerGroupSession {
	for {
		s.mu.Lock()
		sess, next := s.sess, s.newSess
		s.mu.Unlock()
		if sess == nil || sess.Context().Err() == nil {
			return sess
		}
		select {
		case <-next:
		case <-s.consumed:
			return sess
		case <-ctx.Done():
			return sess
		}
	}
}

// hasPending reports acked offsets not yet committed.
func (s *Source) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lanes {
		if _, ok := l.Committable(); ok {
			return true
		}
	}
	return false
}

// pending returns the session's partitions whose acked offsets are not
// committed yet, and the uncommitted marks of partitions it does not hold.
func (s *Source) pending(sess sarama.ConsumerGroupSession) (pending, orphans map[int32]int64) {
	held := sess.Claims()[s.cfg.Topic]
	s.mu.Lock()
	defer s.mu.Unlock()
	for partition, l := range s.lanes {
		mark, ok := l.Committable()
		if !ok {
			continue
		}
		m := &pending
		if !slices.Contains(held, partition) {
			m = &orphans
		}
		if *m == nil {
			*m = map[int32]int64{}
		}
		(*m)[partition] = mark
	}
	return pending, orphans
}

// dropOrphans forgets the uncommitted marks of partitions the session does
// not hold (another member reads them again from the last commit;
// committing an old mark there could move its progress back), remembering
// them in lost for the final commit's report.
func (s *Source) dropOrphans(sess sarama.ConsumerGroupSession) {
	_, orphans := s.pending(sess)
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, mark := range orphans {
		if s.lost == nil {
			s.lost = map[int32]int64{}
		}
		s.lost[p] = mark
		delete(s.lanes, p)
	}
}

// lostMarks returns the marks dropOrphans gave up.
func (s *Source) lostMarks() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.lost)
}

// lostErr says which acked records dropOrphans gave up, or is nil.
func (s *Source) lostErr() error {
	if lost := s.lostMarks(); len(lost) > 0 {
		return mark(fmt.Errorf("kafka source %q: the group rebalanced after the source stopped, before the final commit; records acked on partition(s) %s were not committed and will be read again",
			s.env.Stage.ID, partitionList(lost)), ErrCommitRefused)
	}
	return nil
}

// Close leaves the group and closes the client. Call Commit first. It
// returns within closeWait: with the brokers gone, ending the group session
// and leaving the group retry for minutes; Close then leaves that to finish
// in the background (the group drops the member after session_timeout_ms)
// and says so.
func (s *Source) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.Stop()
		s.cancel()
		// The router waits for the channel to close; nothing sends on it
		// once the stopped source's claims have stopped reading, however
		// long sarama takes to end the session.
		go func() { <-s.life.Read(); s.closeOut() }()
		closed := make(chan error, 1)
		go func() { closed <- s.shutdown() }()
		select {
		case err = <-closed:
		case <-time.After(closeWait):
			s.log.Warn("the consumer did not leave its group in time (are the brokers reachable?); leaving that to finish in the background: the group drops this member after session_timeout_ms",
				zap.Duration("waited", closeWait), zap.Duration("session_timeout", s.cfg.SessionTimeout))
		}
		s.sayIfNothingRead()
		if s.txn != nil {
			s.txn.release()
		}
	})
	return err
}

// closeOut closes the channel Subscribe returned, once: when the consume
// loop ends, or when Close has stopped every claim from reading.
func (s *Source) closeOut() { s.outOnce.Do(func() { close(s.out) }) }

// closeWait bounds Close.
const closeWait = 3 * time.Second

// shutdown ends the group session, leaves the group and closes the client.
func (s *Source) shutdown() error {
	if s.subscribed.Load() {
		<-s.consumed
	}
	err := s.group.Close()
	if e := s.commits.Close(); e != nil && err == nil {
		err = e
	}
	if e := s.client.Close(); e != nil && !errors.Is(e, sarama.ErrClosedClient) && err == nil {
		err = e
	}
	return err
}

func (s *Source) isStopped() bool { return s.life.Stopped() }

// take reserves one record of a bounded run's budget: include the record
// when ok, and stop after it when last.
func (s *Source) take() (ok, last bool) {
	if s.cfg.Limit() <= 0 {
		return true, false
	}
	n := s.budget.Add(-1)
	return n >= 0, n <= 0
}

type groupHandler struct{ s *Source }

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	s := h.s
	s.mu.Lock()
	s.sess = sess
	close(s.newSess)
	s.newSess = make(chan struct{})
	s.mu.Unlock()
	s.log.Info("partitions assigned", zap.Any("claims", sess.Claims()), zap.Int32("generation", sess.GenerationID()))
	s.obs.m.Rebalanced()
	s.dropOrphans(sess)
	s.behind.Store(int64(len(sess.Claims()[s.cfg.Topic])))
	if len(sess.Claims()[s.cfg.Topic]) > 0 {
		s.assign.Do(func() { close(s.assigned) })
	}
	switch {
	case s.txn != nil:
		s.startRewind(sess) // offsets are committed by the transaction
	case s.env.DurableOnAck:
		go s.commitLoop(sess)
	}
	return nil
}

// Cleanup commits what the session's claims acked while they drained (when
// sinks are durable on ack) and, unless the source has stopped, forgets
// the session's partitions: what was acked but not committed is read again
// by their next owner. A stopped source keeps its marks for Commit.
func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	s := h.s
	if pending, _ := s.pending(sess); s.txn != nil && len(pending) > 0 {
		// the session's marks go in a transaction while its generation is
		// still the group's (a rewind has forgotten them: nothing pending)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		if err := s.txn.cycle(ctx); errors.Is(err, context.DeadlineExceeded) {
			s.txn.spoil(err) // the marks are forgotten below: their records must not commit without them
			s.log.Warn("transaction on giving up partitions failed; their records since the last commit will be read again",
				zap.String("partitions", partitionList(pending)), zap.Error(err))
		}
		cancel()
	} else if s.env.DurableOnAck && s.txn == nil && len(pending) > 0 {
		// not s.ctx: Close cancels it, and then this is the last chance
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		if _, err := s.commitPending(ctx, sess); err != nil {
			s.log.Warn("commit on giving up partitions failed; their records since the last commit will be read again",
				zap.String("partitions", partitionList(pending)), zap.Error(err))
		}
		cancel()
	}
	if !s.isStopped() {
		s.mu.Lock()
		for _, p := range sess.Claims()[s.cfg.Topic] {
			delete(s.lanes, p)
		}
		s.mu.Unlock()
	}
	s.log.Info("partitions released", zap.Any("claims", sess.Claims()))
	return nil
}

func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.s.consumeClaim(sess, claim)
	return nil
}

// commitLoop commits soon after offsets are marked: at once when
// commit_interval_ms is 0 (one commit in flight, later marks coalesce into
// the next), else at most once per interval. Committing promptly keeps what
// a crash replays down to the batches that were really in flight. A commit
// the coordinator refuses is retried with backoff; window slots stay taken
// meanwhile, so reading pauses. A refusal that retrying cannot fix, or
// refusals that last commitPatience, stop the source with the partitions
// named.
func (s *Source) commitLoop(sess sarama.ConsumerGroupSession) {
	var failingSince time.Time
	retry := 0
	for {
		select {
		case <-s.kick:
		case <-sess.Context().Done():
			return
		}
		if sess.Context().Err() != nil {
			s.kickCommit() // the kick belongs to the next session's loop
			return
		}
		pending, err := s.commitPending(sess.Context(), sess)
		switch {
		case err == nil:
			failingSince, retry = time.Time{}, 0
		case errors.Is(err, errSessionOver):
			return // the claims end with the session; Cleanup commits what it can
		default:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			var refused *lane.Refused
			if (errors.As(err, &refused) && refused.Permanent) || time.Since(failingSince) > commitPatience {
				s.commitsOver.Do(func() { close(s.noCommits) }) // frees the window slots waiting for a commit
				s.fail(mark(fmt.Errorf("kafka source %q: offset commit of partition(s) %s failing since %s: %w; nothing more is read",
					s.env.Stage.ID, partitionList(pending), failingSince.Format(time.RFC3339), err), append([]error{ErrCommitRefused}, accessKind(err)...)...))
				return
			}
			s.log.Warn("offset commit failed, retrying", zap.String("partitions", partitionList(pending)), zap.Error(err))
			retry++
			select {
			case <-time.After(backoff.Exp(100*time.Millisecond, 2*time.Second, retry)):
			case <-sess.Context().Done():
				return
			}
			s.kickCommit()
			continue
		}
		if s.cfg.CommitInterval > 0 {
			select {
			case <-time.After(s.cfg.CommitInterval):
			case <-s.life.Stopping(): // stopping: commit what comes at once
			case <-sess.Context().Done():
				return
			}
		}
	}
}

// commitPatience is how long commits may keep failing before the source
// gives up: longer than a broker restart takes to move the coordinator.
const commitPatience = 60 * time.Second

// kickCommit tells the commit loop there is something to commit. With
// AutoCommit a marked batch keeps its place in the partition's window until
// a confirmed commit covers it.
func (s *Source) kickCommit() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
