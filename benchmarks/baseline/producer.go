package baseline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/jsonio"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// Produce writes values to topic with one AsyncProducer (Conveyor's sink
// defaults: idempotent, acks=all), keyed by the text of keyField in each
// value as Conveyor's sink keys them, and returns once every record is
// acked. The values are already in memory: this is the cost of producing
// alone, the bound for a file → Kafka pipeline.
func Produce(brokers []string, topic, keyField string, values [][]byte) (int64, error) {
	i := 0
	return produce(brokers, topic, keyField, func() ([]byte, error) {
		if i == len(values) {
			return nil, io.EOF
		}
		i++
		return values[i-1], nil
	})
}

// ProduceFile is Produce reading the records from a JSON records or JSON
// Lines file as it goes, with the reader json.read uses (which validates
// and compacts each record): the same work as Example 2 without the
// framework.
func ProduceFile(brokers []string, topic, keyField, path string) (n, bytes int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := jsonio.NewReader(bufio.NewReaderSize(f, 1<<20), jsonio.FormatAuto)
	var arena []byte
	n, err = produce(brokers, topic, keyField, func() ([]byte, error) {
		v, err := r.Next()
		if err != nil {
			return nil, err
		}
		// Next reuses its buffer; the producer needs the bytes until acked.
		if cap(arena)-len(arena) < len(v) {
			arena = make([]byte, 0, max(256<<10, len(v)))
		}
		s := len(arena)
		arena = append(arena, v...)
		bytes += int64(len(v))
		return arena[s:len(arena):len(arena)], nil
	})
	return n, bytes, err
}

func produce(brokers []string, topic, keyField string, next func() ([]byte, error)) (int64, error) {
	producer, err := sarama.NewAsyncProducer(brokers, ProducerConfig())
	if err != nil {
		return 0, fmt.Errorf("producer: %w", err)
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	acked := make(chan struct{})
	go func() {
		for range producer.Successes() {
		}
		close(acked)
	}()
	errsDone := make(chan struct{})
	go func() {
		for e := range producer.Errors() {
			if failed.Add(1) == 1 {
				firstErr.Store(e.Err)
			}
		}
		close(errsDone)
	}()
	key := record.CompilePath(keyField)
	var msgs []sarama.ProducerMessage
	var sent int64
	var readErr error
	for ; ; sent++ {
		v, err := next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		if sent%1024 == 0 {
			msgs = make([]sarama.ProducerMessage, 1024)
		}
		m := &msgs[sent%1024]
		m.Topic = topic
		m.Value = sarama.ByteEncoder(v)
		if k, ok := record.KeyText(key.Get(v)); ok {
			m.Key = sarama.ByteEncoder(k)
		}
		producer.Input() <- m
	}
	producer.AsyncClose() // flushes, then closes Successes and Errors
	<-acked
	<-errsDone
	if readErr != nil {
		return sent, readErr
	}
	if f := failed.Load(); f > 0 {
		return sent - f, fmt.Errorf("%d records failed, first: %v", f, firstErr.Load())
	}
	return sent, nil
}
