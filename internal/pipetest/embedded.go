package pipetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
	"github.com/conveyor-etl/conveyor/plugin"
)

// runEmbedded runs case c through an in-process broker with the real kafka
// source and sink (other functions' sources and sinks stay fixtures): the
// inputs are produced to the source topics, and what the sinks wrote is
// read back from their topics. Records read back are put in the order of
// the inputs they came from by finding each among those of a fixture run
// of the same case; one that is not there comes last, and shows in the
// diff.
func runEmbedded(ctx context.Context, f *File, reg *plugin.Registry, c *Case) (*outcome, error) {
	p, err := f.loadPipeline(reg)
	if err != nil {
		return nil, err
	}
	ref, err := runFixtures(ctx, p, reg, c)
	if err != nil {
		return nil, err
	}
	if p, err = f.loadPipeline(reg); err != nil {
		return nil, err
	}
	topics := map[string][]string{} // what the fixture run's kafka sinks wrote to
	all := map[string]int32{}       // every topic of the case, created at start
	for stage, recs := range ref.written {
		for _, r := range recs {
			if r.topic != "" && !slices.Contains(topics[stage], r.topic) {
				topics[stage] = append(topics[stage], r.topic)
				all[r.topic] = int32(c.Partitions)
			}
		}
	}
	for _, st := range p.Stages {
		if t := text(st.Config, "topic"); st.Function == "kafka" && t != "" {
			all[t] = int32(c.Partitions)
		}
	}
	if dl := p.ErrorHandling.DeadLetterQueue; dl != nil && dl.Topic != "" {
		all[dl.Topic] = int32(c.Partitions)
	}
	b, err := devkafka.Start(devkafka.Options{Partitions: c.Partitions, Topics: all})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	out, err := runOn(ctx, p, reg, c, b, topics)
	if err != nil {
		return nil, err
	}
	for stage, recs := range out.written {
		adopt(recs, ref.written[stage])
		slices.SortStableFunc(recs, func(a, b written) int { return order(a.from) - order(b.from) })
	}
	return out, nil
}

// adopt gives each record of got read back from a topic the input of the
// first record of ref (a fixture run's) that is the same message.
func adopt(got, ref []written) {
	used := make([]bool, len(ref))
	for i := range got {
		for j, r := range ref {
			if !used[j] && same(got[i], r) {
				used[j], got[i].from = true, r.from
				break
			}
		}
	}
}

// same reports whether two records are the same message: value (as JSON
// when it is), key, partition (when the key chose it) and headers.
func same(a, b written) bool {
	if a.keyed != b.keyed || !bytes.Equal(a.key, b.key) || a.topic != b.topic || (b.partition >= 0 && a.partition != b.partition) ||
		!slices.Equal(byName(a.headers), byName(b.headers)) || (a.value == nil) != (b.value == nil) {
		return false
	}
	x, errA := decodeJSON(a.value)
	y, errB := decodeJSON(b.value)
	if errA != nil || errB != nil {
		return bytes.Equal(a.value, b.value)
	}
	return equal(x, y)
}

// onBroker points every kafka stage of p, and its dead-letter topic, at
// addr, and makes each kafka source stop once it has read its topic to the
// end (until = "end"), as a case's inputs are all there when it starts.
func onBroker(p *config.Pipeline, addr string) {
	for i := range p.Stages {
		st := &p.Stages[i]
		if st.Function != "kafka" {
			continue
		}
		st.Config["brokers"] = config.Value{V: addr, Pos: st.Config["brokers"].Pos}
		if len(st.Inputs) == 0 && text(st.Config, "delivery") != "per-message" {
			st.Config["until"] = config.Value{V: "end", Pos: st.Pos}
		}
	}
	if dl := p.ErrorHandling.DeadLetterQueue; dl != nil && dl.Config != nil {
		if _, own := dl.Config["brokers"]; own {
			dl.Config["brokers"] = config.Value{V: addr, Pos: dl.Config["brokers"].Pos}
		}
	}
}

func text(cfg map[string]config.Value, key string) string {
	s, _ := cfg[key].V.(string)
	return s
}

// produce writes the inputs of every kafka source of p to its topic, each
// to its partition, and notes where each landed.
func (w *world) produce(p *config.Pipeline, addr string) error {
	for _, st := range p.Stages {
		if st.Function != "kafka" || len(st.Inputs) > 0 {
			continue
		}
		topic := text(st.Config, "topic")
		offsets := map[int32]int64{}
		var msgs []kafkautil.Msg
		for _, in := range w.inputs[st.ID] {
			m := kafkautil.Msg{Partition: in.partitionOf(w.partitions), Value: in.value, Timestamp: time.UnixMilli(in.timestamp)}
			if in.Tombstone {
				m.Value = nil
			}
			if in.keyed {
				m.Key = in.key
			}
			for _, h := range in.headers {
				m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Name), Value: []byte(h.Value)})
			}
			w.from[provenance{topic, m.Partition, offsets[m.Partition]}] = w.index[in]
			offsets[m.Partition]++
			msgs = append(msgs, m)
		}
		if err := kafkautil.Produce([]string{addr}, topic, msgs); err != nil {
			return fmt.Errorf("producing the inputs of %q to %s: %w", st.ID, topic, err)
		}
	}
	return nil
}

// readBack reads the topics of p's kafka sinks (their topic key and those
// listed in topics by stage) and dead-letter topic into w.written, in each
// topic's partition and offset order.
func (w *world) readBack(p *config.Pipeline, addr string, topics map[string][]string) error {
	read := func(stage, topic string) error {
		msgs, err := kafkautil.ReadAll([]string{addr}, topic)
		if err != nil {
			return fmt.Errorf("reading %s back: %w", topic, err)
		}
		for _, m := range msgs {
			out := written{value: m.Value, key: m.Key, keyed: m.Key != nil, topic: topic, partition: m.Partition, from: -1, seq: w.seq, headers: []header{}}
			if !m.Timestamp.IsZero() {
				out.timestamp = m.Timestamp.UnixMilli()
			}
			for _, h := range m.Headers {
				out.headers = append(out.headers, header{string(h.Key), string(h.Value)})
			}
			w.seq++
			w.written[stage] = append(w.written[stage], out)
		}
		return nil
	}
	for _, st := range p.Stages {
		if st.Function != "kafka" || len(st.Inputs) == 0 {
			continue
		}
		names := topics[st.ID]
		if t := text(st.Config, "topic"); t != "" && !slices.Contains(names, t) {
			names = append(names, t)
		}
		for _, t := range names {
			if err := read(st.ID, t); err != nil {
				return err
			}
		}
	}
	if dl := p.ErrorHandling.DeadLetterQueue; dl != nil && dl.Topic != "" {
		return read(dlqStage, dl.Topic)
	}
	return nil
}
