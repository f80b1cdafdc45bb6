package flow_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// BenchmarkGoroutinesPerBatchInFlight measures the goroutines the runtime
// keeps per batch in flight: a kafka source over 4 partitions, batch_size
// 1, feeding a Publisher that blocks every write, so that each partition
// holds window batches in flight (one writing, the rest waiting for their
// turn). It runs the pipeline with window 1 and with window 16, reads
// runtime.NumGoroutine once it has been steady for a second, and reports
// the difference per extra batch in flight. It uses only the public API,
// so the same file measures older commits.
func BenchmarkGoroutinesPerBatchInFlight(b *testing.B) {
	env := kafkatest.Start(b)
	const parts = 4
	const wide = 16
	for range b.N {
		g1 := goroutinesInFlight(b, env, parts, 1)
		gw := goroutinesInFlight(b, env, parts, wide)
		b.ReportMetric(float64(g1), "goroutines@window1")
		b.ReportMetric(float64(gw), fmt.Sprintf("goroutines@window%d", wide))
		b.ReportMetric(float64(gw-g1)/float64(parts*(wide-1)), "goroutines/batch")
	}
}

func goroutinesInFlight(b *testing.B, env kafkatest.Env, parts int32, window int) int {
	in, group := kafkatest.Name("in"), kafkatest.Name("g")
	env.CreateTopic(b, in, parts)
	msgs, _ := events(int(parts) * (window + 4) * 2)
	for i := range msgs {
		msgs[i].Partition = int32(i) % parts
	}
	env.Produce(b, in, msgs)
	pub := newBlockingPublisher(0)
	pipeline := fmt.Sprintf(`[pipeline]
name = "inflight"
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 0
batch_size = 1
window = %d
drain_timeout_ms = 1000
[[stages]]
id = "out"
function = "test.blocking"
inputs = ["consume"]
`, env.BrokerList(), in, group, window)
	p, err := config.Parse("inflight.toml", []byte(pipeline))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := flow.Execute(ctx, p, flow.WithRegistry(registerBlocking(b, pub)))
		done <- err
	}()
	select {
	case <-pub.blocked:
	case <-time.After(60 * time.Second):
		b.Fatal("the publisher never blocked")
	}
	n, since := runtime.NumGoroutine(), time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Since(since) < time.Second && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
	cancel()
	close(pub.release)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatal("the run did not stop")
	}
	return n
}

// BenchmarkChannelsPerBatch counts the channels made per batch on Example
// 3's path (kafka -> filter.apply -> kafka, batch_size 10, on 4
// partitions): with every allocation sampled (runtime.MemProfileRate = 1),
// the runtime.makechan calls whose stack passes through Conveyor's or
// Watermill's code (not sarama's or the embedded broker's own) in a run of
// 6,000 records less those of a run of 2,000, divided by the 400 batches
// between them, so that what a run makes once does not count. Contexts'
// Done channels made lazily on that path count too. It uses only the
// public API, so the same file measures older commits.
func BenchmarkChannelsPerBatch(b *testing.B) {
	env := kafkatest.Start(b)
	const small, large, batch = 2000, 6000, 10
	for range b.N {
		c1 := channelsOfRun(b, env, small, batch)
		c2 := channelsOfRun(b, env, large, batch)
		b.ReportMetric(float64(c2-c1)/float64((large-small)/batch), "chans/batch")
	}
}

func channelsOfRun(b *testing.B, env kafkatest.Env, records, batch int) int64 {
	const parts = 4
	in, out, group := kafkatest.Name("in"), kafkatest.Name("out"), kafkatest.Name("g")
	env.CreateTopic(b, in, parts)
	env.CreateTopic(b, out, parts)
	msgs, _ := events(records)
	for i := range msgs {
		msgs[i].Partition = int32(i) % parts
	}
	env.Produce(b, in, msgs)
	p, err := config.Parse("channels.toml", []byte(fmt.Sprintf(`[pipeline]
name = "channels"
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = %d
batch_size = %d
[[stages]]
id = "filter"
function = "filter.apply"
inputs = ["consume"]
[stages.config]
column = "amount"
operator = ">="
value = "0"
[[stages]]
id = "produce"
function = "kafka"
inputs = ["filter"]
[stages.config]
brokers = %q
topic = %q
`, env.BrokerList(), in, group, records, batch, env.BrokerList(), out)))
	if err != nil {
		b.Fatal(err)
	}
	before := makechans()
	runtime.MemProfileRate = 1
	_, err = flow.Execute(context.Background(), p)
	runtime.MemProfileRate = 512 * 1024
	if err != nil {
		b.Fatal(err)
	}
	return makechans() - before
}

// makechans counts the sampled runtime.makechan calls made through
// Conveyor's or Watermill's code so far.
func makechans() int64 {
	runtime.GC()
	runtime.GC()
	recs := make([]runtime.MemProfileRecord, 1<<16)
	n, ok := runtime.MemProfile(recs, true)
	if !ok {
		recs = make([]runtime.MemProfileRecord, n+1024)
		n, _ = runtime.MemProfile(recs, true)
	}
	var total int64
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		mk, ours := false, false
		for {
			f, more := frames.Next()
			switch {
			case f.Function == "runtime.makechan":
				mk = true
			case strings.HasPrefix(f.Function, "github.com/conveyor-etl/conveyor/") || strings.HasPrefix(f.Function, "github.com/ThreeDotsLabs/watermill"):
				ours = true
			}
			if !more {
				break
			}
		}
		if mk && ours {
			total += r.AllocObjects
		}
	}
	return total
}
