package flow_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// metricContract is the documented metric contract (README "Operate"):
// every name with its type and label set. Changing a name, a type or a
// label set breaks dashboards and alerts, and this table.
var metricContract = map[string]struct {
	typ    dto.MetricType
	labels string
}{
	"conveyor_records_in_total":                    {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_records_out_total":                   {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_records_filtered_total":              {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_records_failed_total":                {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_dead_letters_total":                  {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_type_mismatch_total":                 {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_invalid_records_total":               {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_late_records_total":                  {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_batch_records":                       {dto.MetricType_HISTOGRAM, "pipeline,stage"},
	"conveyor_batch_latency_seconds":               {dto.MetricType_HISTOGRAM, "pipeline,stage"},
	"conveyor_kafka_consumer_lag":                  {dto.MetricType_GAUGE, "partition,pipeline,stage,topic"},
	"conveyor_kafka_consumer_lag_seconds":          {dto.MetricType_GAUGE, "partition,pipeline,stage,topic"},
	"conveyor_kafka_last_commit_timestamp_seconds": {dto.MetricType_GAUGE, "partition,pipeline,stage,topic"},
	"conveyor_kafka_commit_latency_seconds":        {dto.MetricType_HISTOGRAM, "pipeline,stage"},
	"conveyor_kafka_rebalances_total":              {dto.MetricType_COUNTER, "pipeline,stage"},
	"conveyor_kafka_producer_retries_total":        {dto.MetricType_COUNTER, "pipeline,stage"},
	// the Go runtime and process collectors (on the run's own /metrics only)
	"go_goroutines":             {dto.MetricType_GAUGE, ""},
	"go_memstats_alloc_bytes":   {dto.MetricType_GAUGE, ""},
	"process_cpu_seconds_total": {dto.MetricType_COUNTER, ""},
}

// TestMetricContract runs Example 3 (kafka → filter.apply → kafka) while
// streaming, scrapes its /metrics, and checks every metric of the contract
// is there with its type and labels, that no conveyor_ metric outside the
// contract is, and that the counts are the pipeline's: 300 in, 150 through
// the filter, consumer lag 0 once caught up and a commit per partition. The
// embedder's registerer (WithMetrics) gets the conveyor_ metrics too, and
// loses them when the run ends.
func TestMetricContract(t *testing.T) {
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("metrics-in"), kafkatest.Name("metrics-out"), kafkatest.Name("metrics-g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 1)
	msgs, _ := events(300)
	env.Produce(t, in, msgs)
	text := example(t, "kafka-etl-example.toml", env, `"raw-events"`, fmt.Sprintf("%q", in), `"processed-events"`, fmt.Sprintf("%q", out),
		`"etl-processor"`, fmt.Sprintf("%q\nmax_messages = 0\nbatch_linger_ms = 1", group))
	p, err := config.Parse("metrics.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ext := prometheus.NewRegistry()
	url, stop := startServed(t, p, flow.WithMetrics(ext))

	var fams map[string]*dto.MetricFamily
	defer func() {
		if t.Failed() {
			for _, n := range []string{"conveyor_records_out_total", "conveyor_kafka_consumer_lag", "conveyor_kafka_last_commit_timestamp_seconds"} {
				t.Logf("%s", fams[n])
			}
		}
	}()
	waitUntil(t, 30*time.Second, "the group to commit all 300 records", func() bool {
		n := int64(0)
		for _, off := range env.Committed(t, group, in) {
			n += off
		}
		return n == 300
	})
	// The source records a commit just after the coordinator confirms it.
	waitUntil(t, 5*time.Second, "/metrics to show the sink's 150 records and three partitions committed", func() bool {
		fams = scrape(t, url+"/metrics")
		return value(fams, "conveyor_records_out_total", "stage", "produce") == 150 &&
			count(fams, "conveyor_kafka_last_commit_timestamp_seconds") == 3
	})
	for name, want := range metricContract {
		f := fams[name]
		if f == nil {
			t.Errorf("%s: missing from /metrics", name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s: type %s, want %s", name, f.GetType(), want.typ)
		}
		for _, m := range f.GetMetric() {
			if got := labelNames(m); got != want.labels {
				t.Errorf("%s: labels %q, want %q", name, got, want.labels)
			}
		}
	}
	for name := range fams {
		if _, ok := metricContract[name]; strings.HasPrefix(name, "conveyor_") && !ok {
			t.Errorf("%s: served but not in the contract (add it to metricContract and the README's metric list)", name)
		}
	}
	for _, c := range []struct {
		name, stage string
		want        float64
	}{
		{"conveyor_records_in_total", "consume", 300}, {"conveyor_records_out_total", "consume", 300},
		{"conveyor_records_in_total", "filter", 300}, {"conveyor_records_out_total", "filter", 150},
		{"conveyor_records_filtered_total", "filter", 150}, {"conveyor_type_mismatch_total", "filter", 0},
		{"conveyor_records_in_total", "produce", 150}, {"conveyor_records_failed_total", "produce", 0},
		{"conveyor_invalid_records_total", "consume", 0}, {"conveyor_late_records_total", "filter", 0},
	} {
		if got := value(fams, c.name, "stage", c.stage); got != c.want {
			t.Errorf("%s{stage=%q} = %v, want %v", c.name, c.stage, got, c.want)
		}
	}
	if got := fams["conveyor_batch_records"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 300 {
		t.Errorf("conveyor_batch_records sum = %v, want 300 (every record in one batch)", got)
	}
	if got := value(fams, "conveyor_kafka_rebalances_total", "stage", "consume"); got < 1 {
		t.Errorf("conveyor_kafka_rebalances_total = %v, want at least 1 (the first assignment)", got)
	}
	for _, m := range fams["conveyor_kafka_last_commit_timestamp_seconds"].GetMetric() {
		if age := time.Since(time.Unix(int64(m.GetGauge().GetValue()), 0)); age > time.Minute {
			t.Errorf("last commit of partition %s is %s old", label(m, "partition"), age)
		}
	}
	if n, lag := count(fams, "conveyor_kafka_consumer_lag"), sum(fams, "conveyor_kafka_consumer_lag"); n != 3 || lag != 0 {
		t.Errorf("conveyor_kafka_consumer_lag: %d partitions, total %v; want 3 partitions, 0 (all committed)", n, lag)
	}
	if n, lag := count(fams, "conveyor_kafka_consumer_lag_seconds"), sum(fams, "conveyor_kafka_consumer_lag_seconds"); n != 3 || lag != 0 {
		t.Errorf("conveyor_kafka_consumer_lag_seconds: %d partitions, total %v; want 3 partitions, 0 (all committed)", n, lag)
	}
	for _, m := range fams["conveyor_records_in_total"].GetMetric() {
		if got := label(m, "pipeline"); got != "kafka-etl" {
			t.Errorf("pipeline label %q, want the [pipeline] name kafka-etl", got)
		}
	}

	embedded := gather(t, ext)
	if value(embedded, "conveyor_records_out_total", "stage", "produce") != 150 {
		t.Errorf("the embedder's registerer has no conveyor_records_out_total{stage=\"produce\"} = 150: %v", names(embedded))
	}
	if _, ok := embedded["go_goroutines"]; ok {
		t.Error("the run registered the Go collector with the embedder's registerer; that is the embedder's choice")
	}
	stop()
	if left := names(gather(t, ext)); len(left) > 0 {
		t.Errorf("after the run the embedder's registerer still has %v", left)
	}
}

// startServed runs p streaming, serving on a free port, and returns the
// server's URL and a stop that cancels the run and waits for it to end.
func startServed(t *testing.T, p *config.Pipeline, opts ...flow.Option) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts = append(opts, flow.WithHTTPListener(l), flow.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))))
	go func() { done <- flow.Run(ctx, p, opts...) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the run did not stop within 30 s of its context's cancel")
		}
	}
	t.Cleanup(stop)
	return "http://" + l.Addr().String(), stop
}

// waitUntil polls cond until it holds, or fails the test saying what it
// waited for.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func gather(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	list, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range list {
		out[f.GetName()] = f
	}
	return out
}

func names(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func labelNames(m *dto.Metric) string {
	var ns []string
	for _, l := range m.GetLabel() {
		ns = append(ns, l.GetName())
	}
	slices.Sort(ns)
	return strings.Join(ns, ",")
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is the counter or gauge of family name whose label k is v; -1 when
// there is none.
func value(fams map[string]*dto.MetricFamily, name, k, v string) float64 {
	for _, m := range fams[name].GetMetric() {
		if label(m, k) == v {
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func count(fams map[string]*dto.MetricFamily, name string) int { return len(fams[name].GetMetric()) }

func sum(fams map[string]*dto.MetricFamily, name string) float64 {
	s := 0.0
	for _, m := range fams[name].GetMetric() {
		s += m.GetGauge().GetValue()
	}
	return s
}
