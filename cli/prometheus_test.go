package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// TestPrometheusScrape runs `conveyor run --http-addr` on a streaming
// Kafka → filter → Kafka pipeline (the embedded broker, or KAFKA_BROKERS),
// has a real Prometheus server (scripts/prometheus.sh: Debian's package)
// scrape it every second, and asks Prometheus's HTTP API for
// conveyor_records_in_total > 0 and the per-partition consumer lag. The
// /metrics text passes `promtool check metrics`. Needs CONVEYOR_PROMETHEUS=1
// (.ci/run sets it); it installs the package when missing.
func TestPrometheusScrape(t *testing.T) {
	if os.Getenv("CONVEYOR_PROMETHEUS") == "" {
		t.Skip("SKIPPED: the real-Prometheus test needs CONVEYOR_PROMETHEUS=1 (it runs scripts/prometheus.sh, which installs Debian's prometheus package when missing); .ci/run sets it")
	}
	env := kafkatest.Start(t)
	in, out, group := kafkatest.Name("prom-in"), kafkatest.Name("prom-out"), kafkatest.Name("prom-g")
	env.CreateTopic(t, in, 3)
	env.CreateTopic(t, out, 1)
	var msgs []kafkatest.Msg
	for i := range 300 {
		msgs = append(msgs, kafkatest.Msg{Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"n":%d,"amount":%d}`, i, i%200)})
	}
	env.Produce(t, in, msgs)

	dir := t.TempDir()
	bin := filepath.Join(dir, "conveyor")
	if b, err := exec.Command("go", "build", "-o", bin, "../cmd/conveyor").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	pipeline := filepath.Join(dir, "prom.toml")
	if err := os.WriteFile(pipeline, fmt.Appendf(nil, `
[pipeline]
name = "prom"
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q
max_messages = 0
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["consume"]
[stages.config]
column = "amount"
operator = ">="
value = 100
[[stages]]
id = "produce"
function = "kafka"
inputs = ["big"]
[stages.config]
brokers = %[1]q
topic = %[4]q
`, env.BrokerList(), in, group, out), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var logs bytes.Buffer
	run := exec.Command(bin, "run", pipeline, "--http-addr", addr, "--log-format", "json")
	run.Stderr = &logs
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	defer func() {
		_ = run.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("conveyor run after SIGINT: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = run.Process.Kill()
			t.Error("conveyor run did not exit within 30 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("conveyor run's log:\n%s", logs.String())
		}
	}()

	promPort := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	script, _ := filepath.Abs("../scripts/prometheus.sh")
	promEnv := append(os.Environ(), "PROMETHEUS_PORT="+promPort, "PROMETHEUS_DIR="+filepath.Join(dir, "prometheus"))
	up := exec.Command(script, "up", addr)
	up.Env = promEnv
	if b, err := up.CombinedOutput(); err != nil {
		t.Fatalf("scripts/prometheus.sh up: %v\n%s", err, b)
	}
	t.Cleanup(func() {
		down := exec.Command(script, "down")
		down.Env = promEnv
		if b, err := down.CombinedOutput(); err != nil {
			t.Errorf("scripts/prometheus.sh down: %v\n%s", err, b)
		}
	})

	body := httpGet(t, "http://"+addr+"/metrics")
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(body)
	if b, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, b)
	} else {
		t.Logf("promtool check metrics: ok (%d lines of /metrics)", strings.Count(body, "\n"))
	}
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "conveyor_records_in_total") || strings.HasPrefix(l, "conveyor_kafka_consumer_lag{") {
			t.Logf("scrape: %s", l)
		}
	}

	prom := "http://127.0.0.1:" + promPort
	in0 := promQuery(t, prom, `conveyor_records_in_total{job="conveyor",stage="consume"} > 0`, 1)
	if v := in0[0].Value[1]; v != "300" {
		t.Errorf("Prometheus has conveyor_records_in_total{stage=\"consume\"} = %v, want 300", v)
	}
	lag := promQuery(t, prom, `conveyor_kafka_consumer_lag{job="conveyor",pipeline="prom",stage="consume"}`, 3)
	for _, s := range lag {
		if s.Metric["topic"] != in {
			t.Errorf("lag series %v: topic %q, want %q", s.Metric, s.Metric["topic"], in)
		}
	}
}

// promSample is one series of an instant query's answer.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery asks Prometheus's HTTP API for expr until the answer has want
// series (Prometheus scrapes every second), and logs the answer.
func promQuery(t *testing.T, base, expr string, want int) []promSample {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw := httpGet(t, base+"/api/v1/query?query="+url.QueryEscape(expr))
		var ans struct {
			Status string `json:"status"`
			Data   struct {
				Result []promSample `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(raw), &ans); err != nil || ans.Status != "success" {
			t.Fatalf("query %s: %v: %s", expr, err, raw)
		}
		if len(ans.Data.Result) >= want {
			t.Logf("Prometheus: %s -> %s", expr, raw)
			return ans.Data.Result
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus: %s has %d series after 30 s, want %d: %s", expr, len(ans.Data.Result), want, raw)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", u, resp.StatusCode, err, b)
	}
	return string(b)
}

// freeAddr is a 127.0.0.1 address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunHTTPAddrTaken: a --http-addr that cannot be listened on fails the
// run before it connects to anything, naming the address.
func TestRunHTTPAddrTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.toml")
	if err := os.WriteFile(path, []byte(copyPipeline(t, filepath.Join(dir, "out.json"))), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := cli(t, "run", path, "--http-addr", l.Addr().String())
	if want := fmt.Sprintf("serving metrics on http_addr %q: listen tcp %s: bind: address already in use", l.Addr(), l.Addr()); code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("run on a taken port: exit %d, want 1 with %q; stderr:\n%s", code, want, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		t.Error("the run wrote its output although it could not serve its metrics")
	}
}
