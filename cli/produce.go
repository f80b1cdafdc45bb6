package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/internal/record"
	"github.com/conveyor-etl/conveyor/internal/schema"
)

// defaultBrokers is where `conveyor dev-kafka` listens, and what produce
// and consume talk to without --brokers.
const defaultBrokers = "localhost:9092"

// produceAbout is what `conveyor produce --help` says the command does.
const produceAbout = `Sends the records of FILE (or of stdin, without FILE or with "-") to TOPIC,
one Kafka record each, value = the record's compact JSON: a JSON array of
records or JSON Lines, told apart by the first character. With --key-field
the key is that field's value (a string as is; a number or boolean as its
text; "user.id" reads a nested field), and a record without it is an error.
Records without a key are spread over the partitions; keyed ones go where
Java's default partitioner would put them. Waits for every ack (acks=all).`

// produceBatch is how many records go to the producer before waiting for
// their acks.
const produceBatch = 1000

func (a *app) cmdProduce(args []string, stdout, stderr io.Writer) int {
	c := newCommand("produce", "[flags] TOPIC [FILE|-]", produceAbout)
	brokers := c.String("brokers", defaultBrokers, "brokers, comma-separated host:port")
	keyField := c.String("key-field", "", "record field whose value becomes the Kafka key")
	sf := addSchemaFlags(c, true)
	if exit, ok := c.parse(args, stdout, stderr); !ok {
		return exit
	}
	if err := sf.check(); err != nil {
		return c.badArgs(stderr, "%v", err)
	}
	if c.NArg() < 1 || c.NArg() > 2 {
		return c.badArgs(stderr, "want a topic and at most one file, got %d arguments", c.NArg())
	}
	topic, name := c.Arg(0), "-"
	if c.NArg() == 2 {
		name = c.Arg(1)
	}
	in, display := a.stdin, "<stdin>"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "conveyor produce: %v\n", err)
			return 1
		}
		defer f.Close()
		in, display = f, name
	}
	values, err := sf.encoder(a.ctx, topic)
	if err != nil {
		fmt.Fprintf(stderr, "conveyor produce: %v\n", err)
		return 1
	}
	n, err := produce(splitBrokers(*brokers), topic, in, display, *keyField, values)
	if err != nil {
		fmt.Fprintf(stderr, "conveyor produce: %v\n", err)
		if n > 0 {
			fmt.Fprintf(stderr, "conveyor produce: %d records were sent to %s before that\n", n, topic)
		}
		return 1
	}
	fmt.Fprintf(stderr, "conveyor produce: sent %d records to %s\n", n, topic)
	return 0
}

// splitBrokers splits a comma-separated broker list.
func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// produce sends the records that in (named name in errors) holds and
// returns how many were acked, values in values' schema (nil: as JSON). A
// malformed record (or one without the key field, or that does not fit
// the schema) stops it: the records before it are sent, none after it.
func produce(brokers []string, topic string, in io.Reader, name, keyField string, values *schema.Encoder) (int, error) {
	cfg := kafkautil.Config()
	cfg.ClientID = "conveyor-produce"
	cfg.Producer.MaxMessageBytes = 16 << 20 // the broker and topic enforce their own limit
	cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", strings.Join(brokers, ","), err)
	}
	defer p.Close()
	var key record.KeyPath
	if keyField != "" {
		key = record.CompileKeyPath(keyField)
	}
	r := jsonio.NewReader(in, jsonio.FormatAuto)
	sent, index := 0, 0
	batch := make([]*sarama.ProducerMessage, 0, produceBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := p.SendMessages(batch); err != nil {
			var perrs sarama.ProducerErrors
			if errors.As(err, &perrs) && len(perrs) > 0 {
				return fmt.Errorf("send to %s: %d of %d records failed, the first: %w", topic, len(perrs), len(batch), kafkautil.ExplainTooLarge(perrs[0].Err, ""))
			}
			return fmt.Errorf("send to %s: %w", topic, err)
		}
		sent += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		v, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sent, errors.Join(fmt.Errorf("%s: %w", name, err), flush())
		}
		index++
		m := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(append([]byte(nil), v...))}
		if values != nil {
			b, err := values.Encode(nil, v)
			if err != nil {
				return sent, errors.Join(fmt.Errorf("%s: record %d: %w", name, index, err), flush())
			}
			m.Value = sarama.ByteEncoder(b)
		}
		if keyField != "" {
			k, ok := key.Key(v)
			if !ok {
				return sent, errors.Join(fmt.Errorf("%s: record %d has no --key-field %q (a string, number or boolean): %.80s", name, index, keyField, v), flush())
			}
			m.Key = sarama.ByteEncoder(k)
		}
		if batch = append(batch, m); len(batch) == produceBatch {
			if err := flush(); err != nil {
				return sent, err
			}
		}
	}
	return sent, flush()
}
