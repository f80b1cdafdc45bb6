package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/benchmarks/internal/gen"
	"github.com/conveyor-etl/conveyor/benchmarks/internal/kit"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// latencyStats are end-to-end latencies in milliseconds: from the input
// record's timestamp (set by the load generator when it sends the record)
// to the output record's timestamp, which the broker sets when it appends
// the record (message.timestamp.type=LogAppendTime), and to the moment a
// consumer of the output topic received it.
type latencyStats struct {
	Rate          int     `json:"rate"`
	Sent          int64   `json:"sent"`
	Samples       int     `json:"samples"`
	TimestampType string  `json:"timestamp_type"`
	AppendP50     float64 `json:"append_p50_ms"`
	AppendP99     float64 `json:"append_p99_ms"`
	AppendP999    float64 `json:"append_p999_ms"`
	AppendMax     float64 `json:"append_max_ms"`
	RecvP50       float64 `json:"recv_p50_ms"`
	RecvP99       float64 `json:"recv_p99_ms"`
	RecvMax       float64 `json:"recv_max_ms"`
	// InputP50/P99 are the same measure for the input topic: from the
	// record's timestamp to a consumer of the input receiving it, the part
	// of the latency that is the load generator and the broker, not the
	// pipeline.
	InputP50     float64 `json:"input_p50_ms"`
	InputP99     float64 `json:"input_p99_ms"`
	AchievedRate float64 `json:"achieved_rate"`
}

type latSample struct {
	inMs     int64 // input record timestamp
	appendUs int64 // output append time - input timestamp
	recvUs   int64 // receive time - input timestamp
}

// latency runs Example 3 as a streaming pipeline and feeds it a fixed rate
// of records.
// name is "latency", or "latencyeos" for the same under exactly-once.
func (h *harness) latency(name string) *result {
	r, b0 := h.base(name, 1)
	in, out, group := h.name(name+"-in"), h.name(name+"-out"), h.name(name)
	st := &latencyStats{Rate: h.opt.latRate, TimestampType: "LogAppendTime"}
	r.Latency = st
	if err := h.createTopic(in, nil); err != nil {
		r.Err = err.Error()
		return r
	}
	if err := h.createTopic(out, map[string]string{"message.timestamp.type": "LogAppendTime"}); err != nil {
		h.logf("LogAppendTime topic: %v; using the sink's CreateTime", err)
		st.TimestampType = "CreateTime (set by the sink's producer)"
		if err := h.createTopic(out, nil); err != nil {
			r.Err = err.Error()
			return r
		}
	}
	spec := h.conveyorSpec(childSpec{Scenario: name, InTopic: in, OutTopic: out, Group: group, Records: 0})
	spec.CPUProfile = h.profilePath(name, 1)
	p, err := h.spawn(name+"-1", spec)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer func() {
		p.stop(90 * time.Second)
		h.finish(r, p, b0)
	}()
	if err := p.waitStart(60 * time.Second); err != nil {
		r.Err = err.Error()
		return r
	}
	for deadline := time.Now().Add(60 * time.Second); !h.admin.GroupStable(group); {
		if time.Now().After(deadline) {
			r.Err = "the pipeline's consumer group did not become stable within 60s"
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}

	// With --latency-probe, consumers read the output and the input while
	// the load runs, for the latency a consumer sees and for the share of
	// the load generator and the broker alone. They load the broker too, so
	// by default the output is read after the load instead.
	var mu sync.Mutex
	var samples []latSample
	var inLat []int64
	var measureFrom atomic.Int64
	measureFrom.Store(math.MaxInt64) // set when the load starts
	tsPath := record.CompilePath(record.TimestampField)
	// Under exactly-once a record is visible when its transaction commits,
	// after its append: the latency that counts is a read_committed
	// consumer's, so the probe always runs, reading committed.
	probe := h.opt.latProbe || transactional(name)
	if probe {
		cc := kit.Config()
		if transactional(name) {
			cc.Consumer.IsolationLevel = sarama.ReadCommitted
		}
		consumer, err := sarama.NewConsumer(h.brokers, cc)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		defer consumer.Close()
		for _, topic := range []string{out, in} {
			for part := int32(0); part < int32(h.opt.partitions); part++ {
				pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
				if err != nil {
					r.Err = err.Error()
					return r
				}
				defer pc.Close()
				go func() {
					for m := range pc.Messages() {
						now := time.Now().UnixMicro()
						mu.Lock()
						if topic == out {
							ts := tsPath.Get(m.Value).Int()
							samples = append(samples, latSample{inMs: ts, appendUs: (m.Timestamp.UnixMilli() - ts) * 1000, recvUs: now - ts*1000})
						} else if m.Timestamp.UnixMilli() >= measureFrom.Load() {
							inLat = append(inLat, now-m.Timestamp.UnixMilli()*1000)
						}
						mu.Unlock()
					}
				}()
			}
		}
	}

	// Send at a fixed rate. Each record's timestamp is the time it was
	// made; the producer waits up to --latency-gen-linger to batch sends.
	c := kit.Config()
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Return.Errors = true
	c.Producer.Flush.Frequency = h.opt.latGenLinger
	producer, err := sarama.NewAsyncProducer(h.brokers, c)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	go func() {
		for e := range producer.Errors() {
			h.logf("latency load: %v", e.Err)
		}
	}()
	total := int64(float64(h.opt.latRate) * (h.opt.latWarmup + h.opt.latDuration).Seconds())
	h.logf("latency: sending %d records at %d/s", total, h.opt.latRate)
	t0 := time.Now()
	measureFrom.Store(t0.Add(h.opt.latWarmup).UnixMilli())
	for i := int64(0); i < total; {
		due := min(total, int64(time.Since(t0).Seconds()*float64(h.opt.latRate))+1)
		for ; i < due; i++ {
			key := gen.AppendEventID(nil, i)
			producer.Input() <- &sarama.ProducerMessage{Topic: in, Partition: int32(i % int64(h.opt.partitions)),
				Key: sarama.ByteEncoder(key), Value: sarama.ByteEncoder(gen.Append(nil, i)), Timestamp: time.Now()}
		}
		time.Sleep(200 * time.Microsecond)
	}
	loadTime := time.Since(t0)
	producer.Close()
	st.Sent, st.AchievedRate = total, float64(total)/loadTime.Seconds()
	r.Records, r.Expected, r.Elapsed = total, gen.Kept(total), loadTime
	for deadline := time.Now().Add(30 * time.Second); ; {
		end, err := h.admin.EndOffsets(out)
		if err == nil {
			r.Out = kit.Sum(end)
		}
		if r.Out >= r.Expected {
			break
		}
		if time.Now().After(deadline) {
			r.Err = fmt.Sprintf("only %d of %d output records arrived within 30s of the end of the load", r.Out, r.Expected)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if transactional(name) {
		time.Sleep(2 * time.Second) // the last transactions commit and reach the probe
	}
	if !probe {
		err := kit.ReadAll(h.brokers, out, func(m *sarama.ConsumerMessage) {
			ts := tsPath.Get(m.Value).Int()
			samples = append(samples, latSample{inMs: ts, appendUs: (m.Timestamp.UnixMilli() - ts) * 1000})
		})
		if err != nil && r.Err == "" {
			r.Err = "reading the output: " + err.Error()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var app, rec []int64
	if f, err := os.Create(filepath.Join(h.opt.out, name+"-samples.csv")); err == nil {
		w := bufio.NewWriter(f)
		fmt.Fprintln(w, "input_ts_ms,append_latency_us,recv_latency_us")
		for _, s := range samples {
			fmt.Fprintf(w, "%d,%d,%d\n", s.inMs, s.appendUs, s.recvUs)
		}
		w.Flush()
		f.Close()
	}
	for _, s := range samples {
		if s.inMs >= measureFrom.Load() {
			app = append(app, s.appendUs)
			rec = append(rec, s.recvUs)
		}
	}
	st.Samples = len(app)
	st.AppendP50, st.AppendP99, st.AppendP999, st.AppendMax = pct(app, 50), pct(app, 99), pct(app, 99.9), pct(app, 100)
	if probe {
		st.RecvP50, st.RecvP99, st.RecvMax = pct(rec, 50), pct(rec, 99), pct(rec, 100)
		st.InputP50, st.InputP99 = pct(inLat, 50), pct(inLat, 99)
	}
	if spec.CPUProfile != "" {
		p.stop(90 * time.Second)
		h.pprofTop(spec.CPUProfile)
	}
	return r
}

// pct returns the p-th percentile of v (microseconds) in milliseconds.
func pct(v []int64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	i := int(float64(len(v))*p/100+0.5) - 1
	i = max(0, min(len(v)-1, i))
	return float64(v[i]) / 1000
}

// memSample is the child's memory and progress at one moment.
type memSample struct {
	T         float64 `json:"t_s"`
	RSS       int64   `json:"rss_bytes"`
	HWM       int64   `json:"hwm_bytes"`
	Committed int64   `json:"committed"`
	Backlog   int64   `json:"backlog"`
}

// memory runs Example 3 streaming over a large backlog with the sink slowed
// down, sampling the child's RSS once a second.
func (h *harness) memory() *result {
	r, b0 := h.base("memory", 1)
	in, out, group := h.name("mem-in"), h.name("mem-out"), h.name("memory")
	n := h.opt.memRecords
	inEnd, inBytes, err := h.seed(in, n)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	r.Records, r.InBytes, r.Expected = n, inBytes, gen.Kept(n)
	if err := h.createTopic(out, nil); err != nil {
		r.Err = err.Error()
		return r
	}
	h.waitQuiet() // seeding 5M records loaded the machine
	b0 = h.brokerCPU()
	r.Load1 = load1()
	spec := h.conveyorSpec(childSpec{Scenario: "memory", InTopic: in, OutTopic: out, Group: group, Records: 0, SinkRate: h.opt.memRate})
	p := h.start(r, "memory-1", spec, 60*time.Second, b0)
	if p == nil {
		return r
	}
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(time.Duration(3*n/int64(max(1, h.opt.memRate))+120) * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		<-tick.C
		rss, hwm := procStatus(pid)
		c, err := h.admin.Committed(group, in)
		if err != nil {
			continue
		}
		sum := kit.Sum(c)
		r.Memory = append(r.Memory, memSample{T: time.Since(p.start).Seconds(), RSS: rss, HWM: hwm, Committed: sum, Backlog: n - sum})
		if kit.Reached(c, inEnd) {
			r.Elapsed = time.Since(p.start)
			break
		}
		if time.Now().After(deadline) {
			r.Err = fmt.Sprintf("committed %d of %d records before the deadline", sum, n)
			break
		}
		select {
		case <-p.exited:
			r.Err = fmt.Sprintf("child exited early (log: %s)", p.logPath)
		default:
		}
		if r.Err != "" {
			break
		}
	}
	p.stop(90 * time.Second)
	h.finish(r, p, b0)
	if r.Err == "" {
		h.checkExact(r, out, group, in, inEnd)
	}
	return r
}
