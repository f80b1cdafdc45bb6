package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// consumeAbout is what `conveyor consume --help` says the command does.
const consumeAbout = `Prints the records of TOPIC as JSON Lines on stdout, one object each:
{"partition":0,"offset":12,"key":"u1","timestamp":"...","value":{...}}.
The value is the record's JSON as it is, or a JSON string when it is not
JSON, or null for a tombstone; the key is a string, or null when there is
none. Without --group it reads every partition from its end (new records
only) or, with --from-beginning, from its start, and commits nothing; with
--group it joins that consumer group, starts from the group's committed
offsets and commits what it printed. It stops after -n records, with
--until-end once it has printed every record the topic held when it started
(like kcat -e; at once, saying so, when there is none to print), or on
Ctrl-C.`

// consumed is one record as consume prints it.
type consumed struct {
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Key       *string         `json:"key"`
	Timestamp string          `json:"timestamp,omitempty"`
	Value     json.RawMessage `json:"value"`
}

func (a *app) cmdConsume(args []string, stdout, stderr io.Writer) int {
	c := newCommand("consume", "[flags] TOPIC", consumeAbout)
	brokers := c.String("brokers", defaultBrokers, "brokers, comma-separated host:port")
	fromStart := c.Bool("from-beginning", false, "start at the oldest record (without --group, or for a group with no committed offset)")
	n := c.Int("n", 0, "stop after this many records (0: run until Ctrl-C)")
	group := c.String("group", "", "consumer group to join, committing what is printed")
	untilEnd := c.Bool("until-end", false, "stop at the end offsets the topic had when consume started (with --group: run as the group's only member)")
	sf := addSchemaFlags(c, false)
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if err := sf.check(); err != nil {
		return c.badArgs(stderr, "%v", err)
	}
	if c.NArg() != 1 {
		return c.badArgs(stderr, "want one topic, got %d arguments", c.NArg())
	}
	if *n < 0 {
		return c.badArgs(stderr, "-n: want 0 or more, got %d", *n)
	}
	ctx, stop := signal.NotifyContext(a.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	opts := consumeOptions{brokers: splitBrokers(*brokers), topic: c.Arg(0), fromStart: *fromStart, limit: *n, group: *group, untilEnd: *untilEnd}
	values, err := sf.decoder(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "conveyor consume: %v\n", err)
		return 1
	}
	opts.values = values
	printed, err := consume(ctx, opts, w)
	w.Flush()
	if err != nil {
		fmt.Fprintf(stderr, "conveyor consume: %v\n", err)
		return 1
	}
	if *untilEnd {
		fmt.Fprintf(stderr, "conveyor consume: %d records, up to the end %s had when consume started\n", printed, opts.topic)
	}
	return 0
}

// consumeOptions are what consume reads and where it stops.
type consumeOptions struct {
	brokers   []string
	topic     string
	fromStart bool
	limit     int             // 0: no limit
	group     string          // "": no group, commit nothing
	untilEnd  bool            // stop at the end offsets of the start
	values    *schema.Decoder // nil: values are printed as they are
}

// printer writes records as JSON Lines until its limit, then cancels.
type printer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	left    int // records still to print; < 0: no limit
	printed int
	cancel  context.CancelFunc
	ends    *endTracker // nil without --until-end
	values  *schema.Decoder
	ctx     context.Context
}

// print writes m unless the limit was reached, and reports whether it did.
func (p *printer) print(m *sarama.ConsumerMessage) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left == 0 {
		return false
	}
	if p.ends.past(m.Partition, m.Offset) {
		// Written since consume started (the last offsets before were
		// transaction markers): not printed, not marked, and the partition
		// is read to its end.
		p.ends.at(m.Partition, m.Offset)
		return true
	}
	out := toConsumed(m)
	if p.values != nil && m.Value != nil {
		out.Value = decodeValue(p.ctx, p.values, m.Value)
	}
	line, _ := json.Marshal(out)
	p.w.Write(line)
	p.w.WriteByte('\n')
	p.printed++
	p.ends.at(m.Partition, m.Offset+1)
	if p.left > 0 {
		if p.left--; p.left == 0 {
			p.cancel()
		}
	}
	// Flush each record: someone is watching, and records come slowly.
	return p.w.Flush() == nil
}

// toConsumed is m as printed.
func toConsumed(m *sarama.ConsumerMessage) consumed {
	out := consumed{Partition: m.Partition, Offset: m.Offset, Value: json.RawMessage("null")}
	if m.Key != nil {
		k := string(m.Key)
		if !utf8.ValidString(k) {
			k = string([]rune(k)) // invalid bytes become U+FFFD
		}
		out.Key = &k
	}
	if !m.Timestamp.IsZero() {
		out.Timestamp = m.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	switch {
	case m.Value == nil:
	case json.Valid(m.Value):
		out.Value = m.Value
	default:
		s, _ := json.Marshal(string(m.Value))
		out.Value = s
	}
	return out
}

// consume prints records until the limit, the end offsets of the start
// (untilEnd) or ctx's end, and returns how many it printed.
func consume(ctx context.Context, o consumeOptions, w *bufio.Writer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	left := o.limit
	if left == 0 {
		left = -1
	}
	p := &printer{w: w, left: left, cancel: cancel, values: o.values, ctx: ctx}
	cfg := kafkautil.Config()
	cfg.ClientID = "conveyor-consume"
	cfg.Metadata.AllowAutoTopicCreation = false // looking must not create the topic
	cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
	if o.fromStart {
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	}
	client, err := sarama.NewClient(o.brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to %v: %w", o.brokers, err)
	}
	defer client.Close()
	parts, err := client.Partitions(o.topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return 0, fmt.Errorf("topic %q does not exist on %s", o.topic, strings.Join(o.brokers, ","))
	}
	if err != nil {
		return 0, fmt.Errorf("topic %s: %w", o.topic, err)
	}
	if o.untilEnd {
		if p.ends, err = startEnds(client, o.topic, parts, cancel); err != nil {
			return 0, err
		}
		go p.ends.poll(ctx, client, o.topic)
		if o.group == "" { // where each partition starts is known now
			for _, part := range parts {
				start, err := startOffset(client, o.topic, part, cfg.Consumer.Offsets.Initial)
				if err != nil {
					return 0, err
				}
				p.ends.at(part, start)
			}
		}
	}
	if o.group != "" {
		return p.printed, consumeGroup(ctx, client, o, p)
	}
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return 0, fmt.Errorf("connect to %v: %w", o.brokers, err)
	}
	defer cons.Close()
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, part := range parts {
		pc, err := cons.ConsumePartition(o.topic, part, cfg.Consumer.Offsets.Initial)
		if err != nil {
			return p.printed, fmt.Errorf("topic %s partition %d: %w", o.topic, part, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.AsyncClose()
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-pc.Messages():
					if !p.print(m) {
						return
					}
				case e := <-pc.Errors():
					errs <- e
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return p.printed, err
	default:
		return p.printed, nil
	}
}

// consumeGroup prints records as a member of o.group, marking each one
// printed; sarama commits the marks (and on close).
func consumeGroup(ctx context.Context, client sarama.Client, o consumeOptions, p *printer) error {
	g, err := sarama.NewConsumerGroupFromClient(o.group, client)
	if err != nil {
		return fmt.Errorf("join group %s: %w", o.group, err)
	}
	defer g.Close()
	h := groupPrinter{p: p, client: client}
	for ctx.Err() == nil {
		if err := g.Consume(ctx, []string{o.topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("group %s: %w", o.group, err)
		}
	}
	return nil
}

// groupPrinter is the consumer group handler of consume --group.
type groupPrinter struct {
	p      *printer
	client sarama.Client
}

func (groupPrinter) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (groupPrinter) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h groupPrinter) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	if h.p.ends != nil { // a partition the group has read to its end is done at once
		start, err := startOffset(h.client, c.Topic(), c.Partition(), c.InitialOffset())
		if err != nil {
			return err
		}
		h.p.ends.at(c.Partition(), start)
	}
	for {
		select {
		case <-s.Context().Done():
			return nil
		case m, ok := <-c.Messages():
			if !ok || !h.p.print(m) {
				return nil
			}
			s.MarkMessage(m, "")
		}
	}
}

// startOffset is the offset where reading partition p from initial begins:
// initial itself, or what OffsetOldest and OffsetNewest stand for now.
func startOffset(client sarama.Client, topic string, p int32, initial int64) (int64, error) {
	if initial >= 0 {
		return initial, nil
	}
	off, err := client.GetOffset(topic, p, initial)
	if err != nil {
		return 0, fmt.Errorf("topic %s partition %d: %w", topic, p, err)
	}
	return off, nil
}

// endTracker stops consume --until-end: it holds each partition's end
// offset as consume started, and cancels once every partition has been
// printed up to it. A nil tracker tracks nothing.
type endTracker struct {
	mu     sync.Mutex
	end    map[int32]int64
	next   map[int32]int64 // the next offset to print, once known
	done   map[int32]bool
	left   int // partitions not at their end yet
	cancel context.CancelFunc
}

// startEnds asks for the end offsets of the topic's partitions now.
func startEnds(client sarama.Client, topic string, parts []int32, cancel context.CancelFunc) (*endTracker, error) {
	t := &endTracker{end: make(map[int32]int64, len(parts)), next: map[int32]int64{}, done: map[int32]bool{}, left: len(parts), cancel: cancel}
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("topic %s partition %d: end offset: %w", topic, p, err)
		}
		t.end[p] = end
	}
	if t.left == 0 {
		cancel()
	}
	return t, nil
}

// at notes that partition p's next record to print is at offset next.
func (t *endTracker) at(p int32, next int64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	end, ok := t.end[p]
	if !ok || t.done[p] {
		return
	}
	if t.next[p] = next; next < end {
		return
	}
	t.done[p] = true
	if t.left--; t.left == 0 {
		t.cancel()
	}
}

// endPoll is how often poll asks the log about a partition whose next
// offset is below its end.
const endPoll = 250 * time.Millisecond

// poll marks done each partition that has nothing left to print before its
// end although its next offset is below it: the log in between holds only
// transaction markers, which the consumer reads past without delivering
// anything (kafkautil.Deliverable). It returns when ctx ends.
func (t *endTracker) poll(ctx context.Context, client sarama.Client, topic string) {
	tick := time.NewTicker(endPoll)
	defer tick.Stop()
	seen := map[int32]int64{} // next offsets at the last tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		waiting := t.waiting()
		for p, next := range waiting {
			if last, ok := seen[p]; !ok || last != next {
				continue // printing: ask when it stops
			}
			span, err := kafkautil.Deliverable(client, topic, p, next, t.end[p], sarama.ReadUncommitted, true)
			if err == nil && span.Complete && span.Records == 0 {
				t.at(p, t.end[p])
			}
		}
		seen = waiting
	}
}

// waiting is the next offset of each partition not done whose next offset
// is known.
func (t *endTracker) waiting() map[int32]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[int32]int64{}
	for p, next := range t.next {
		if !t.done[p] && next < t.end[p] {
			out[p] = next
		}
	}
	return out
}

// past reports whether offset off of partition p lies at or after the end
// it had when consume started (a record written since), which --until-end
// does not print.
func (t *endTracker) past(p int32, off int64) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	end, ok := t.end[p]
	return ok && off >= end
}
