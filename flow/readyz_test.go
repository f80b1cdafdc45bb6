package flow_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/plugin"
)

// TestReadyz runs a streaming kafka → sink pipeline on the embedded broker
// with stall_timeout_ms = 500 and a sink that blocks until released:
// /healthz answers 200 throughout; /readyz answers 200 once the source has
// its partition; after records arrive that the blocked sink cannot take,
// 503 naming the stalled partition, no sooner than the stall timeout; 200
// again once the sink lets them through. While stalled, the lag metrics
// show the 10 records and their age.
func TestReadyz(t *testing.T) {
	env, _ := kafkatest.StartEmbedded(t)
	topic, group := kafkatest.Name("ready"), kafkatest.Name("ready-g")
	env.CreateTopic(t, topic, 1)
	gate := make(chan struct{})
	p, err := config.Parse("readyz.toml", []byte(fmt.Sprintf(`
[pipeline]
name = "readyz"
[global]
stall_timeout_ms = 500
[[stages]]
id = "in"
function = "kafka"
[stages.config]
brokers = %q
topic = %q
group_id = %q
max_messages = 0
batch_linger_ms = 1
[[stages]]
id = "blocked"
function = "test.block"
inputs = ["in"]
`, env.BrokerList(), topic, group)))
	if err != nil {
		t.Fatal(err)
	}
	url, stop := startServed(t, p, flow.WithRegistry(blockRegistry(gate)))

	if code, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %q, want 200", code, body)
	}
	var code int
	var body string
	waitUntil(t, 20*time.Second, "/readyz to answer 200 once the partition is assigned", func() bool {
		code, body = get(t, url+"/readyz")
		return code == http.StatusOK
	})
	if strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz body %q, want \"ready\"", body)
	}

	msgs, _ := events(10)
	for i := range msgs {
		msgs[i].Partition = 0
	}
	env.Produce(t, topic, msgs)
	produced := time.Now()
	waitUntil(t, 10*time.Second, "/readyz to answer 503 while the blocked sink holds the partition back", func() bool {
		code, body = get(t, url+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if stalled := time.Since(produced); stalled < 500*time.Millisecond {
		t.Errorf("/readyz answered 503 %s after the records arrived, before stall_timeout_ms = 500", stalled)
	}
	want := fmt.Sprintf("stage \"in\": partition %s/0 has 10 record(s) to read and has made no progress for", topic)
	if !strings.Contains(body, want) || !strings.Contains(body, "(stall_timeout_ms = 500)") {
		t.Errorf("/readyz body %q, want it to contain %q and the stall timeout", body, want)
	}
	// The lag metrics say the same: 10 records uncommitted, the oldest at
	// least as old as the stall.
	fams := scrape(t, url+"/metrics")
	if lag := value(fams, "conveyor_kafka_consumer_lag", "partition", "0"); lag != 10 {
		t.Errorf("conveyor_kafka_consumer_lag while stalled = %v, want 10", lag)
	}
	if age := value(fams, "conveyor_kafka_consumer_lag_seconds", "partition", "0"); age < 0.5 {
		t.Errorf("conveyor_kafka_consumer_lag_seconds while stalled = %v, want at least the 0.5 s stall", age)
	}
	if code, body := get(t, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while stalled: %d %q, want 200 (the process is alive)", code, body)
	}

	close(gate)
	waitUntil(t, 10*time.Second, "/readyz to answer 200 again once the sink takes the records", func() bool {
		code, body = get(t, url+"/readyz")
		return code == http.StatusOK
	})
	stop()
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the HTTP server still answers after the run ended")
	}
}

// blockRegistry has a sink "test.block" whose writes are durable only once
// gate is closed.
func blockRegistry(gate <-chan struct{}) *plugin.Registry {
	reg := plugin.Default().Clone()
	err := reg.Register(&plugin.Spec{Name: "test.block", Plugin: "test", Sink: plugin.NewFactory(
		func() *struct{} { return &struct{}{} },
		func(context.Context, *struct{}, plugin.Env) (plugin.Sink, error) { return blockSink{gate}, nil })})
	if err != nil {
		panic(err)
	}
	return reg
}

type blockSink struct{ gate <-chan struct{} }

func (s blockSink) Send(context.Context, []plugin.Record) plugin.Pending { return s }
func (s blockSink) Publish(_ string, msgs ...*message.Message) error {
	return plugin.PublishBySend(s, msgs)
}
func (s blockSink) Close() error { return nil }

// Wait blocks until the gate opens.
func (s blockSink) Wait(ctx context.Context) error {
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
