package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/zap"

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

	ctx    context.Context // ends consuming; cancelled by Close
	cancel context.CancelFunc
	out    chan *message.Message

	budget atomic.Int64 // records left in a bounded run

	mu       sync.Mutex
	stopped  bool
	stopCh   chan struct{}
	readers  sync.WaitGroup // claim loops still reading
	inflight sync.WaitGroup // emitted batches not yet acked or nacked
	done     chan struct{}
	err      error
	sess     sarama.ConsumerGroupSession
	marks    map[int32]int64 // next offset to read, per partition, as last marked

	kick chan struct{} // a batch was marked: commit soon

	// Marks are numbered; a commit that started after mark n covers it.
	// With AutoCommit a window slot is freed only once its batch's offset
	// is committed, so a crash replays at most window batches a partition.
	markSeq      atomic.Int64
	commitMu     sync.Mutex
	committedSeq int64
	commitDone   chan struct{} // closed and replaced after each commit
	consumed     chan struct{} // closed when the consume loop has returned
	closeOnce    sync.Once
	records      atomic.Int64
	bytes        atomic.Int64
	subscribed   atomic.Bool
}

// NewSource connects to the brokers and joins nothing yet: the group is
// joined on Subscribe.
func NewSource(cfg *SourceConfig, env plugin.Env) (*Source, error) {
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
	// A fetch with nothing new to return waits this long on the broker, and
	// the broker answers one request of a connection at a time: offset
	// commits to the coordinator share the connection, so they wait behind
	// such a long poll. sarama's default of 500 ms made a commit take up to
	// half a second once the source had caught up; 100 ms is sarama's
	// recommended minimum.
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	sc.Consumer.Fetch.Max = int32(cfg.FetchMaxBytes)
	sc.Consumer.Fetch.Default = 1 << 20
	sc.ChannelBufferSize = 1024
	sc.Consumer.Group.Session.Timeout = cfg.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = cfg.SessionTimeout / 3
	// A member has this long to rejoin after a rebalance starts; it only has
	// to drain its in-flight batches first.
	sc.Consumer.Group.Rebalance.Timeout = cfg.DrainTimeout + 5*time.Second
	if cfg.IsolationLevel == "read_committed" {
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
		client: client, group: group, ctx: ctx, cancel: cancel,
		out: make(chan *message.Message), kick: make(chan struct{}, 1), commitDone: make(chan struct{}), stopCh: make(chan struct{}), done: make(chan struct{}), consumed: make(chan struct{})}
	s.budget.Store(cfg.MaxMessages)
	return s, nil
}

// Subscribe starts consuming; topic is ignored (the stage's topic is used).
func (s *Source) Subscribe(_ context.Context, _ string) (<-chan *message.Message, error) {
	if err := s.checkTopic(); err != nil {
		return nil, err
	}
	makePatient(s.client)
	if !s.subscribed.CompareAndSwap(false, true) {
		return nil, errors.New("kafka source: Subscribe called twice")
	}
	if d := s.cfg.Deadline(); d > 0 {
		time.AfterFunc(d, func() {
			s.log.Info("timeout reached, stopping", zap.Duration("timeout", d))
			s.Stop()
		})
	}
	go s.logErrors()
	go s.consume()
	return s.out, nil
}

// checkTopic fails early and clearly when the topic does not exist and the
// broker will not create it.
func (s *Source) checkTopic() error {
	if err := s.client.RefreshMetadata(s.cfg.Topic); err != nil {
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("kafka source %q: topic %q does not exist on %v and the broker does not create topics automatically: create it first", s.env.Stage.ID, s.cfg.Topic, s.cfg.Brokers)
		}
		return fmt.Errorf("kafka source %q: topic %q: %w", s.env.Stage.ID, s.cfg.Topic, err)
	}
	return nil
}

func (s *Source) consume() {
	defer close(s.consumed)
	defer close(s.out)
	h := &groupHandler{s: s}
	backoff := 100 * time.Millisecond
	for s.ctx.Err() == nil {
		err := s.group.Consume(s.ctx, []string{s.cfg.Topic}, h)
		switch {
		case s.ctx.Err() != nil, errors.Is(err, sarama.ErrClosedConsumerGroup):
			return
		case groupConfigError(err) != "":
			s.fail(fmt.Errorf("kafka source %q: consumer group %q: %s: %w", s.env.Stage.ID, s.cfg.GroupID, groupConfigError(err), err))
			return
		case err != nil:
			s.log.Warn("consumer group error, retrying", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		default:
			backoff = 100 * time.Millisecond
		}
	}
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

// Stop ends reading: every claim emits what it has, then stops. Done closes
// once everything emitted is acked or nacked.
func (s *Source) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	close(s.stopCh)
	go func() {
		s.readers.Wait()
		s.inflight.Wait()
		close(s.done)
	}()
}

// Done is closed when the source has stopped and every batch it emitted
// has been acked or nacked.
func (s *Source) Done() <-chan struct{} { return s.done }

// Err is why the source failed, or nil.
func (s *Source) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Source) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.Stop()
}

// Stats reports the records emitted so far.
func (s *Source) Stats() plugin.SourceStats {
	return plugin.SourceStats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// Commit synchronously commits every offset marked so far (marked means
// acked, in order) and checks with the group coordinator that the commit
// took: sarama reports a refused commit only in its logs, and a graceful
// stop promises no replays. It needs the group session to be alive, which
// it is until Close.
func (s *Source) Commit(ctx context.Context) error {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess == nil {
		return nil
	}
	for attempt := 1; ; attempt++ {
		done := make(chan struct{})
		go func() { sess.Commit(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("kafka source %q: commit: %w", s.env.Stage.ID, ctx.Err())
		}
		behind, err := s.uncommitted()
		if err == nil && behind == "" {
			return nil
		}
		if attempt == 3 {
			if err != nil {
				return fmt.Errorf("kafka source %q: cannot confirm the final commit: %w", s.env.Stage.ID, err)
			}
			return fmt.Errorf("kafka source %q: the broker did not take the final commit (%s); those records will be read again", s.env.Stage.ID, behind)
		}
		s.log.Warn("final commit not confirmed yet, committing again", zap.String("behind", behind), zap.Error(err))
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// markedAt records that partition's records before next are acked.
func (s *Source) markedAt(partition int32, next int64) {
	s.mu.Lock()
	if s.marks == nil {
		s.marks = map[int32]int64{}
	}
	s.marks[partition] = max(s.marks[partition], next)
	s.mu.Unlock()
}

// uncommitted asks the group coordinator for the committed offsets and
// describes the partitions whose commit is behind their mark ("" if none).
func (s *Source) uncommitted() (string, error) {
	s.mu.Lock()
	marks := maps.Clone(s.marks)
	s.mu.Unlock()
	if len(marks) == 0 {
		return "", nil
	}
	coord, err := s.client.Coordinator(s.cfg.GroupID)
	if err != nil {
		return "", err
	}
	parts := slices.Sorted(maps.Keys(marks))
	resp, err := coord.FetchOffset(sarama.NewOffsetFetchRequest(s.client.Config().Version, s.cfg.GroupID, map[string][]int32{s.cfg.Topic: parts}))
	if err != nil {
		return "", err
	}
	var behind []string
	for _, p := range parts {
		b := resp.GetBlock(s.cfg.Topic, p)
		switch {
		case b == nil:
			return "", fmt.Errorf("no committed offset returned for partition %d", p)
		case !errors.Is(b.Err, sarama.ErrNoError):
			return "", fmt.Errorf("partition %d: %w", p, b.Err)
		case b.Offset < marks[p]:
			behind = append(behind, fmt.Sprintf("partition %d committed %d, acked up to %d", p, b.Offset, marks[p]))
		}
	}
	return strings.Join(behind, ", "), nil
}

// Close leaves the group and closes the client. Call Commit first.
func (s *Source) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.Stop()
		s.cancel()
		if s.subscribed.Load() {
			<-s.consumed
		}
		err = s.group.Close()
		if e := s.client.Close(); e != nil && !errors.Is(e, sarama.ErrClosedClient) && err == nil {
			err = e
		}
	})
	return err
}

// register records a new claim loop; false once the source has stopped.
func (s *Source) register() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.readers.Add(1)
	return true
}

// take reserves one record of a bounded run's budget: include the record
// when ok, and stop after it when last.
func (s *Source) take() (ok, last bool) {
	if s.cfg.MaxMessages <= 0 {
		return true, false
	}
	n := s.budget.Add(-1)
	return n >= 0, n <= 0
}

type groupHandler struct{ s *Source }

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.s.mu.Lock()
	h.s.sess = sess
	h.s.marks = nil // what the last session marked is its (or the next owner's) business
	h.s.mu.Unlock()
	h.s.log.Info("partitions assigned", zap.Any("claims", sess.Claims()), zap.Int32("generation", sess.GenerationID()))
	if h.s.env.AutoCommit {
		go h.s.commitLoop(sess)
	}
	return nil
}

func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	if h.s.env.AutoCommit {
		sess.Commit()
	}
	h.s.log.Info("partitions released", zap.Any("claims", sess.Claims()))
	return nil
}

func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.s.consumeClaim(sess, claim)
	return nil
}

// commitLoop commits soon after offsets are marked: at once when
// commit_interval_ms is 0 (one commit in flight, later marks coalesce into
// the next), else at most once per interval. Committing promptly keeps what
// a crash replays down to the batches that were really in flight.
func (s *Source) commitLoop(sess sarama.ConsumerGroupSession) {
	for {
		select {
		case <-s.kick:
			seq := s.markSeq.Load()
			sess.Commit()
			s.commitMu.Lock()
			s.committedSeq = max(s.committedSeq, seq)
			close(s.commitDone)
			s.commitDone = make(chan struct{})
			s.commitMu.Unlock()
		case <-sess.Context().Done():
			return
		}
		if s.cfg.CommitInterval > 0 {
			select {
			case <-time.After(s.cfg.CommitInterval):
			case <-sess.Context().Done():
				return
			}
		}
	}
}

// marked numbers a new mark and tells the commit loop there is something
// to commit. With AutoCommit the caller then waits, with awaitCommit, until
// a commit covers the mark before it frees the batch's window slot.
func (s *Source) marked() int64 {
	seq := s.markSeq.Add(1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return seq
}

// awaitCommit waits until a commit that started after mark seq has finished
// (or the session or the source ends). Without AutoCommit it returns at
// once: the runner commits after the sinks have flushed.
func (s *Source) awaitCommit(sess sarama.ConsumerGroupSession, seq int64) {
	if !s.env.AutoCommit {
		return
	}
	for {
		s.commitMu.Lock()
		done, ch := s.committedSeq >= seq, s.commitDone
		s.commitMu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-sess.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}
