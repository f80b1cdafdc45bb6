package baseline

import (
	"fmt"
	"sync/atomic"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// Produce writes values to topic with one AsyncProducer (Conveyor's sink
// defaults: idempotent, acks=all), keyed by the text of keyField in each
// value as Conveyor's sink keys them, and returns once every record is
// acked. The values are already in memory: this is the cost of producing
// alone, the bound for a file → Kafka pipeline.
func Produce(brokers []string, topic, keyField string, values [][]byte) (int64, error) {
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
	for i, v := range values {
		if i%1024 == 0 {
			msgs = make([]sarama.ProducerMessage, 1024)
		}
		m := &msgs[i%1024]
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
	if n := failed.Load(); n > 0 {
		return int64(len(values)) - n, fmt.Errorf("%d records failed, first: %v", n, firstErr.Load())
	}
	return int64(len(values)), nil
}
