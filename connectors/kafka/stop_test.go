package kafka

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// refuseCommits makes the broker refuse every OffsetCommit with a
// retriable error while refuse is true, and counts the refusals.
func refuseCommits(c *kfake.Cluster, refuse *atomic.Bool, refused *atomic.Int64) {
	c.ControlKey(int16(kmsg.OffsetCommit), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		req := kreq.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		refused.Add(1)
		return resp, nil, true
	})
}

// A claim waiting for room in its window (every commit refused, so no slot
// frees) sees Stop: Done closes within the drain timeout instead of
// waiting for the commit loop's patience to run out, and the batch it was
// waiting to emit is neither emitted nor committed.
func TestStopEndsAWaitForTheWindow(t *testing.T) {
	env, cluster := kafkatest.StartEmbedded(t)
	topic := kafkatest.Name("held")
	env.CreateTopic(t, topic, 1)
	msgs := make([]kafkatest.Msg, 200)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Partition: 0, Value: []byte(`{"n":1}`)}
	}
	env.Produce(t, topic, msgs)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	refuseCommits(cluster, &refuse, &refused)

	const batch, window = 10, 2
	cfg := DefaultSourceConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.MaxMessages = env.Brokers, topic, kafkatest.Name("g"), 0
	cfg.BatchSize, cfg.Window, cfg.DrainTimeout = batch, window, time.Second
	src, err := NewSource(cfg, plugin.Env{Stage: &config.Stage{ID: "consume"}, Logger: zap.NewNop(), DurableOnAck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := src.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	go func() {
		for m := range out {
			b, err := plugin.DecodeBatch(m)
			if err != nil {
				t.Error(err)
			}
			acked.Add(int64(len(b.Records)))
			m.Ack()
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for refused.Load() < 3 || acked.Load() < batch*window {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %d commits refused, %d records acked", refused.Load(), acked.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the claim waits for a slot
	if n := acked.Load(); n != batch*window {
		t.Fatalf("%d records acked while every commit was refused; window %d × batch_size %d allows %d", n, window, batch, batch*window)
	}

	start := time.Now()
	src.Stop()
	select {
	case <-src.Done():
	case <-time.After(cfg.DrainTimeout + 5*time.Second):
		t.Fatalf("Done had not closed %s after Stop, with the claim waiting for a window slot", time.Since(start).Round(time.Millisecond))
	}
	t.Logf("Done closed %s after Stop", time.Since(start).Round(time.Millisecond))
	refuse.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := src.Commit(ctx); err != nil {
		t.Errorf("final commit: %v", err)
	}
	if n := src.Stats().Records; n != batch*window {
		t.Errorf("the source counts %d records emitted; %d were", n, batch*window)
	}
	if off := env.Committed(t, cfg.GroupID, topic)[0]; off > batch*window {
		t.Errorf("committed offset %d, past the %d records acked", off, batch*window)
	}
}
