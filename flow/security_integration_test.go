package flow_test

// Security tests: TLS (custom CA, mutual TLS) and SASL (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) for the Kafka source and sink, each a real pipeline run,
// plus the failures (wrong password, untrusted CA, wrong server name, no
// client certificate) and proof that a password never shows in logs, errors,
// `conveyor validate` output or a printed config.
//
// Against the real Apache Kafka broker of `scripts/kafka.sh secure up`:
//
//	scripts/kafka.sh secure up
//	KAFKA_SECURE_DIR=.cache/kafka/secure go test -count=1 -v -run IntegrationSecurity ./flow
//	scripts/kafka.sh secure down
//
// Without KAFKA_SECURE_DIR they run against in-process kfake brokers with
// the same listeners (SASL_SSL, SSL, SSL with client certificates required)
// and certificates generated into t.TempDir(), so they never skip.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// passwordEnv is the variable the pipelines read sasl_password from.
const passwordEnv = "CONVEYOR_TEST_SASL_PASSWORD"

// secureEnv is a broker with TLS and SASL listeners and the material to use them.
type secureEnv struct {
	Real bool
	// brokers of each listener
	SASLSSL string // SASL_SSL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SSL     string // SSL, server certificate only
	MTLS    string // SSL, client certificate required
	User    string
	// Passwords by mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Passwords map[string]string
	// the CA that signed the broker and client certificates
	CAFile, CertFile, KeyFile string
	// a CA that signed neither, and a client certificate it signed
	UntrustedCAFile, UntrustedCertFile, UntrustedKeyFile string
}

var secureOnce sync.Once

// startSecure returns the real secure broker of KAFKA_SECURE_DIR, else
// in-process kfake brokers with TLS and SASL that end with the test.
func startSecure(t *testing.T) secureEnv {
	t.Helper()
	if dir := os.Getenv("KAFKA_SECURE_DIR"); dir != "" {
		return loadSecureDir(t, dir)
	}
	secureOnce.Do(func() {
		fmt.Fprintln(os.Stderr, "*** TestIntegrationSecurity*: KAFKA_SECURE_DIR is not set, so these run against in-process kfake brokers\n"+
			"*** (TLS + SASL). Against a real Apache Kafka with SASL_SSL/SSL listeners:\n"+
			"***   scripts/kafka.sh secure up && KAFKA_SECURE_DIR=.cache/kafka/secure go test -count=1 -v -run IntegrationSecurity ./flow; scripts/kafka.sh secure down")
	})
	t.Log("KAFKA_SECURE_DIR not set: in-process kfake brokers (run `scripts/kafka.sh secure up` and set KAFKA_SECURE_DIR=.cache/kafka/secure for the real broker)")
	return startSecureKfake(t)
}

// loadSecureDir reads DIR/env as written by `scripts/kafka.sh secure up`.
// A relative DIR is taken from the repository root too (go test runs in
// the package directory).
func loadSecureDir(t *testing.T, dir string) secureEnv {
	t.Helper()
	if _, err := os.Stat(dir); err != nil && !filepath.IsAbs(dir) {
		if _, err := os.Stat(filepath.Join("..", dir)); err == nil {
			dir = filepath.Join("..", dir)
		}
	}
	f, err := os.Open(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatalf("KAFKA_SECURE_DIR=%s: %v (start the broker with: scripts/kafka.sh secure up)", dir, err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			vars[k] = v
		}
	}
	get := func(k string) string {
		v := vars["KAFKA_SECURE_"+k]
		if v == "" {
			t.Fatalf("%s/env has no KAFKA_SECURE_%s (rerun: scripts/kafka.sh secure up)", dir, k)
		}
		return v
	}
	e := secureEnv{Real: true, SASLSSL: get("SASL_SSL_BROKERS"), SSL: get("SSL_BROKERS"), MTLS: get("MTLS_BROKERS"), User: get("USER"),
		Passwords: map[string]string{"PLAIN": get("PLAIN_PASSWORD"), "SCRAM-SHA-256": get("SCRAM_SHA_256_PASSWORD"), "SCRAM-SHA-512": get("SCRAM_SHA_512_PASSWORD")},
		CAFile:    get("CA_FILE"), CertFile: get("CLIENT_CERT_FILE"), KeyFile: get("CLIENT_KEY_FILE"),
		UntrustedCAFile: get("UNTRUSTED_CA_FILE"), UntrustedCertFile: get("UNTRUSTED_CLIENT_CERT_FILE"), UntrustedKeyFile: get("UNTRUSTED_CLIENT_KEY_FILE")}
	t.Logf("using the real secure broker of KAFKA_SECURE_DIR=%s: SASL_SSL %s, SSL %s, mutual TLS %s", dir, e.SASLSSL, e.SSL, e.MTLS)
	return e
}

// startSecureKfake starts three kfake clusters, one per listener kind, with
// certificates made for this test.
func startSecureKfake(t *testing.T) secureEnv {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, "conveyor test CA")
	untrusted := newTestCA(t, "conveyor untrusted test CA")
	server := ca.issue(t, "localhost", true)
	e := secureEnv{User: "conveyor", Passwords: map[string]string{}}
	for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		e.Passwords[m] = randomHex(t, 16)
	}
	e.CAFile = writeFile(t, dir, "ca.pem", ca.certPEM)
	e.UntrustedCAFile = writeFile(t, dir, "untrusted-ca.pem", untrusted.certPEM)
	client := ca.issue(t, e.User, false)
	e.CertFile, e.KeyFile = writeFile(t, dir, "client.pem", client.certPEM), writeFile(t, dir, "client.key", client.keyPEM)
	uclient := untrusted.issue(t, e.User, false)
	e.UntrustedCertFile, e.UntrustedKeyFile = writeFile(t, dir, "untrusted-client.pem", uclient.certPEM), writeFile(t, dir, "untrusted-client.key", uclient.keyPEM)

	serverTLS := func(clientAuth tls.ClientAuthType) *tls.Config {
		pool := x509.NewCertPool()
		pool.AddCert(ca.cert)
		return &tls.Config{Certificates: []tls.Certificate{server.pair}, ClientAuth: clientAuth, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	}
	start := func(opts ...kfake.Opt) string {
		c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(3)}, opts...)...)
		if err != nil {
			t.Fatalf("kfake: %v", err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()[0]
	}
	e.SASLSSL = start(kfake.TLS(serverTLS(tls.NoClientCert)), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", e.User, e.Passwords["PLAIN"]),
		kfake.Superuser("SCRAM-SHA-256", e.User, e.Passwords["SCRAM-SHA-256"]),
		kfake.Superuser("SCRAM-SHA-512", e.User, e.Passwords["SCRAM-SHA-512"]))
	e.SSL = start(kfake.TLS(serverTLS(tls.NoClientCert)))
	e.MTLS = start(kfake.TLS(serverTLS(tls.RequireAndVerifyClientCert)))
	return e
}

// ---------------------------------------------------------------- certificates

type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

type testCert struct {
	certPEM, keyPEM []byte
	pair            tls.Certificate
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a server certificate for localhost and 127.0.0.1, or a client one.
func (ca *testCA) issue(t *testing.T, cn string, server bool) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCert{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})}
	if c.pair, err = tls.X509KeyPair(c.certPEM, c.keyPEM); err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ---------------------------------------------------------------- test-side clients

// tools is a sarama config that reaches one listener, for creating topics,
// producing the input and checking the output and offsets (the pipeline
// under test uses its own settings).
type tools struct {
	brokers []string
	cfg     func() *sarama.Config
}

func (e secureEnv) tools(t *testing.T, listener string) tools {
	t.Helper()
	caPEM, err := os.ReadFile(e.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s: no certificates", e.CAFile)
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	var brokers string
	switch listener {
	case "SASL_SSL":
		brokers = e.SASLSSL
	case "SSL":
		brokers = e.SSL
	case "MTLS":
		brokers = e.MTLS
		pair, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tools{brokers: strings.Split(brokers, ","), cfg: func() *sarama.Config {
		c := sarama.NewConfig()
		c.Version = sarama.V3_0_0_0
		c.ClientID = "conveyor-security-test"
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = tc.Clone()
		if listener == "SASL_SSL" {
			c.Net.SASL.Enable = true
			c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
			c.Net.SASL.User = e.User
			c.Net.SASL.Password = e.Passwords["PLAIN"]
		}
		c.Producer.Return.Successes = true
		c.Producer.RequiredAcks = sarama.WaitForAll
		c.Producer.Partitioner = sarama.NewManualPartitioner
		return c
	}}
}

func (k tools) createTopic(t *testing.T, name string, partitions int32) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(k.brokers, k.cfg())
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	client, err := sarama.NewClient(k.brokers, k.cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_ = client.RefreshMetadata(name)
		parts, err := client.Partitions(name)
		ready := err == nil && int32(len(parts)) == partitions
		for _, p := range parts {
			if l, err := client.Leader(name, p); err != nil || l == nil {
				ready = false
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s has no leaders after 30 s: %v", name, err)
		}
	}
}

func (k tools) produce(t *testing.T, topic string, msgs []kafkatest.Msg) {
	t.Helper()
	p, err := sarama.NewSyncProducer(k.brokers, k.cfg())
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	pms := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pms[i] = &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(m.Value)}
	}
	if err := p.SendMessages(pms); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

func (k tools) endOffsets(t *testing.T, client sarama.Client, topic string) map[int32]int64 {
	t.Helper()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readAll reads topic from the start to its current end.
func (k tools) readAll(t *testing.T, topic string) []kafkatest.Msg {
	t.Helper()
	client, err := sarama.NewClient(k.brokers, k.cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var out []kafkatest.Msg
	for p, end := range k.endOffsets(t, client, topic) {
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				out = append(out, kafkatest.Msg{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value})
				done = m.Offset+1 >= end
			case <-time.After(30 * time.Second):
				t.Fatalf("reading %s/%d: timed out", topic, p)
			}
		}
		pc.Close()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// assertCommittedAll checks that group committed every partition of topic to its end.
func (k tools) assertCommittedAll(t *testing.T, group, topic string) {
	t.Helper()
	client, err := sarama.NewClient(k.brokers, k.cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	end := k.endOffsets(t, client, topic)
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatalf("offsets of group %s: %v", group, err)
	}
	for p, e := range end {
		b := resp.GetBlock(topic, p)
		if b == nil || b.Offset != e {
			got := int64(-1)
			if b != nil {
				got = b.Offset
			}
			t.Errorf("group %s committed %d on %s/%d, want the end offset %d", group, got, topic, p, e)
		}
	}
}

// ---------------------------------------------------------------- pipelines

// security is the security keys of a pipeline stage.
type security struct {
	Protocol, Mechanism, User string
	// PasswordFromEnv writes sasl_password = "${CONVEYOR_TEST_SASL_PASSWORD}".
	PasswordFromEnv bool
	CA, Cert, Key   string
	ServerName      string
}

func (s security) toml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "security_protocol = %q\n", s.Protocol)
	if s.Mechanism != "" {
		fmt.Fprintf(&b, "sasl_mechanism = %q\nsasl_username = %q\n", s.Mechanism, s.User)
	}
	if s.PasswordFromEnv {
		fmt.Fprintf(&b, "sasl_password = \"${%s}\"\n", passwordEnv)
	}
	for _, kv := range [][2]string{{"tls_ca_file", s.CA}, {"tls_cert_file", s.Cert}, {"tls_key_file", s.Key}, {"tls_server_name", s.ServerName}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s = %q\n", kv[0], kv[1])
		}
	}
	return b.String()
}

// copyPipeline reads in, keys by user_id and writes out, both stages with sec.
func copyPipeline(brokers, in, out, group string, maxMessages int, sec security) string {
	return fmt.Sprintf(`
[pipeline]
name = "security-test"

[[stages]]
id = "consume"
function = "kafka"
inputs = []
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[4]q
max_messages = %[5]d
timeout_ms = 60000
batch_size = 100
dial_timeout_ms = 5000
%[6]s
[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = %[1]q
topic = %[3]q
key_field = "user_id"
dial_timeout_ms = 5000
%[6]s`, brokers, in, out, group, maxMessages, sec.toml())
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runSecure parses text (after setting CONVEYOR_TEST_SASL_PASSWORD to
// password) and runs it with every log at debug level captured. Neither the
// logs nor the error may contain any of secrets; it returns the summary,
// the error, how long the run took and the logs.
func runSecure(t *testing.T, text, password string, secrets ...string) (flow.Summary, error, time.Duration, string) {
	t.Helper()
	t.Setenv(passwordEnv, password)
	p, err := config.Parse("security.toml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := flow.Validate(p); err != nil {
		t.Fatalf("validate: %v", err)
	}
	logs := &syncBuffer{}
	enc := zap.NewDevelopmentEncoderConfig()
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), logs, zap.DebugLevel))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	sum, err := flow.Execute(ctx, p, flow.WithLogger(log))
	took := time.Since(start)
	out := logs.String()
	for _, s := range append([]string{password}, secrets...) {
		if s == "" {
			continue
		}
		if strings.Contains(out, s) {
			t.Errorf("the logs of the run contain a password:\n%s", out)
		}
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("the run's error contains a password: %v", err)
		}
		if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), s) {
			t.Errorf("the run's error, formatted, contains a password")
		}
	}
	if t.Failed() {
		t.Logf("run logs:\n%s", out)
	}
	return sum, err, took, out
}

// assertCopyRun seeds in, runs the copy pipeline with sec and checks the
// output (every record, exactly once) and the committed offsets.
func assertCopyRun(t *testing.T, e secureEnv, brokers, listener string, sec security, password string) {
	t.Helper()
	k := e.tools(t, listener)
	in, out, group := kafkatest.Name("sec-in"), kafkatest.Name("sec-out"), kafkatest.Name("sec-g")
	k.createTopic(t, in, 3)
	k.createTopic(t, out, 3)
	const n = 300
	msgs, _ := events(n)
	k.produce(t, in, msgs)
	sum, err, took, logs := runSecure(t, copyPipeline(brokers, in, out, group, n, sec), password)
	if err != nil {
		t.Fatalf("run failed after %s: %v\nlogs:\n%s", took, err, logs)
	}
	t.Logf("%s over %s: %s in %s", sec.Protocol+"/"+sec.Mechanism, brokers, sum, took.Round(time.Millisecond))
	if sum.In != n || sum.Out != n {
		t.Errorf("summary %s; want in=%d out=%d", sum, n, n)
	}
	seen := map[string]int{}
	for _, m := range k.readAll(t, out) {
		d := decode(t, m.Value)
		seen[d.EventID]++
		if want := fmt.Sprint(d.UserID); string(m.Key) != want {
			t.Fatalf("output key %q, want user_id %q", m.Key, want)
		}
	}
	for i := range n {
		if id := fmt.Sprintf("e-%06d", i); seen[id] != 1 {
			t.Errorf("event %s is in the output %d times, want once", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct events in the output, want %d", len(seen), n)
	}
	k.assertCommittedAll(t, group, in)
}

// assertFails runs the copy pipeline (source first: it is the first to
// connect) and checks that it fails within 30 s with an error containing
// every one of want (case-insensitive) and none of the secrets.
func assertFails(t *testing.T, e secureEnv, brokers, listener string, sec security, password string, want []string, secrets ...string) {
	t.Helper()
	k := e.tools(t, listener)
	in, out := kafkatest.Name("sec-in"), kafkatest.Name("sec-out")
	k.createTopic(t, in, 1)
	k.createTopic(t, out, 1)
	k.produce(t, in, []kafkatest.Msg{{Value: []byte(`{"event_id":"x","user_id":1}`)}})
	_, err, took, _ := runSecure(t, copyPipeline(brokers, in, out, kafkatest.Name("sec-g"), 1, sec), password, secrets...)
	if err == nil {
		t.Fatalf("run succeeded; want it to fail")
	}
	t.Logf("failed in %s as expected: %v", took.Round(time.Millisecond), err)
	if took > 30*time.Second {
		t.Errorf("took %s to fail, want < 30 s", took)
	}
	low := strings.ToLower(err.Error())
	for _, w := range want {
		if !strings.Contains(low, strings.ToLower(w)) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

// ---------------------------------------------------------------- the tests

func TestIntegrationSecuritySASLPlain(t *testing.T) {
	e := startSecure(t)
	sec := security{Protocol: "SASL_SSL", Mechanism: "PLAIN", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
	assertCopyRun(t, e, e.SASLSSL, "SASL_SSL", sec, e.Passwords["PLAIN"])
}

func TestIntegrationSecuritySCRAMSHA256(t *testing.T) {
	e := startSecure(t)
	sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-256", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
	assertCopyRun(t, e, e.SASLSSL, "SASL_SSL", sec, e.Passwords["SCRAM-SHA-256"])
}

func TestIntegrationSecuritySCRAMSHA512(t *testing.T) {
	e := startSecure(t)
	sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
	assertCopyRun(t, e, e.SASLSSL, "SASL_SSL", sec, e.Passwords["SCRAM-SHA-512"])
}

// SSL with the broker's certificate verified against a custom CA (no system roots).
func TestIntegrationSecurityTLSCustomCA(t *testing.T) {
	e := startSecure(t)
	assertCopyRun(t, e, e.SSL, "SSL", security{Protocol: "SSL", CA: e.CAFile}, "")
	// the name to verify may also be given: the certificate is for localhost too
	t.Run("tls_server_name=localhost", func(t *testing.T) {
		assertCopyRun(t, e, e.SSL, "SSL", security{Protocol: "SSL", CA: e.CAFile, ServerName: "localhost"}, "")
	})
}

// Mutual TLS: the listener requires a client certificate signed by its CA.
func TestIntegrationSecurityMutualTLS(t *testing.T) {
	e := startSecure(t)
	t.Run("client certificate", func(t *testing.T) {
		assertCopyRun(t, e, e.MTLS, "MTLS", security{Protocol: "SSL", CA: e.CAFile, Cert: e.CertFile, Key: e.KeyFile}, "")
	})
	t.Run("no client certificate", func(t *testing.T) {
		assertFails(t, e, e.MTLS, "MTLS", security{Protocol: "SSL", CA: e.CAFile}, "",
			[]string{"cannot reach brokers " + e.MTLS, "client certificate", "tls_cert_file"})
	})
	t.Run("client certificate from an untrusted CA", func(t *testing.T) {
		assertFails(t, e, e.MTLS, "MTLS", security{Protocol: "SSL", CA: e.CAFile, Cert: e.UntrustedCertFile, Key: e.UntrustedKeyFile}, "",
			[]string{"cannot reach brokers " + e.MTLS, "client certificate"})
	})
}

// A wrong password fails the run quickly, saying authentication failed,
// and neither the wrong nor the right password shows anywhere.
func TestIntegrationSecurityWrongPassword(t *testing.T) {
	e := startSecure(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			wrong := "wrong-" + randomHex(t, 8)
			sec := security{Protocol: "SASL_SSL", Mechanism: mech, User: e.User, PasswordFromEnv: true, CA: e.CAFile}
			assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, wrong, []string{"authentication", "sasl_password"},
				e.Passwords["PLAIN"], e.Passwords["SCRAM-SHA-256"], e.Passwords["SCRAM-SHA-512"])
		})
	}
	// the password of another mechanism is wrong too: the mechanisms are not mixed up
	t.Run("SCRAM-SHA-512 with the SCRAM-SHA-256 password", func(t *testing.T) {
		sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
		assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, e.Passwords["SCRAM-SHA-256"], []string{"authentication"}, e.Passwords["SCRAM-SHA-512"])
	})
}

// A CA that did not sign the broker's certificate: a certificate error.
func TestIntegrationSecurityUntrustedCA(t *testing.T) {
	e := startSecure(t)
	t.Run("SSL", func(t *testing.T) {
		assertFails(t, e, e.SSL, "SSL", security{Protocol: "SSL", CA: e.UntrustedCAFile}, "",
			[]string{"certificate", "unknown authority", "tls_ca_file"})
	})
	t.Run("SASL_SSL", func(t *testing.T) {
		sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", User: e.User, PasswordFromEnv: true, CA: e.UntrustedCAFile}
		assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, e.Passwords["SCRAM-SHA-512"], []string{"certificate", "unknown authority", "tls_ca_file"})
	})
}

// tls_server_name that the broker's certificate is not for: a certificate error.
func TestIntegrationSecurityServerNameMismatch(t *testing.T) {
	e := startSecure(t)
	assertFails(t, e, e.SSL, "SSL", security{Protocol: "SSL", CA: e.CAFile, ServerName: "kafka.invalid"}, "",
		[]string{"certificate", "kafka.invalid", "tls_server_name"})
}

// The password never shows: not in the logs of a successful or a failed
// run (debug level), not in the error, not in what `conveyor validate`
// prints for a broken pipeline, not in a printed or logged config.
func TestIntegrationSecuritySecretsNeverShown(t *testing.T) {
	e := startSecure(t)
	secret := "Zebra-" + randomHex(t, 12) + "-Secret"

	t.Run("logs and error of failed runs", func(t *testing.T) {
		sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-256", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
		assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, secret, []string{"authentication"})
		sec.Mechanism = "PLAIN"
		assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, secret, []string{"authentication"})
		// TLS fails before SASL starts
		sec.CA = e.UntrustedCAFile
		assertFails(t, e, e.SASLSSL, "SASL_SSL", sec, secret, []string{"certificate"})
	})

	t.Run("logs of a successful run", func(t *testing.T) {
		// runSecure checks the password against the debug logs of every run; make
		// sure those logs are not empty, so that the check means something.
		k := e.tools(t, "SASL_SSL")
		in, out, group := kafkatest.Name("sec-in"), kafkatest.Name("sec-out"), kafkatest.Name("sec-g")
		k.createTopic(t, in, 1)
		k.createTopic(t, out, 1)
		msgs, _ := events(20)
		for i := range msgs {
			msgs[i].Partition = 0
		}
		k.produce(t, in, msgs)
		pw := e.Passwords["SCRAM-SHA-512"]
		sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
		_, err, _, logs := runSecure(t, copyPipeline(e.SASLSSL, in, out, group, len(msgs), sec), pw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs, "pipeline running") || !strings.Contains(logs, "partitions assigned") {
			t.Errorf("expected debug logs of the run, got:\n%s", logs)
		}
	})

	t.Run("validate", func(t *testing.T) {
		t.Setenv(passwordEnv, secret)
		out := validateOutput(t, brokenSecretPipeline)
		for _, want := range []string{`unknown value "SCRAM-SHA-1"`, "sasl_pasword", `did you mean "sasl_password"`, "want a string, got a value (hidden: secret)", "SASL keys are set but security_protocol is SSL"} {
			if !strings.Contains(out, want) {
				t.Errorf("validate output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, secret) {
			t.Errorf("validate output shows the password:\n%s", out)
		}
	})

	t.Run("printed and logged config", func(t *testing.T) {
		t.Setenv(passwordEnv, secret)
		p, err := config.Parse("p.toml", []byte(copyPipeline(e.SASLSSL, "in", "out", "g", 10,
			security{Protocol: "SASL_SSL", Mechanism: "PLAIN", User: e.User, PasswordFromEnv: true, CA: e.CAFile})))
		if err != nil {
			t.Fatal(err)
		}
		src, sink := kafka.DefaultSourceConfig(), kafka.DefaultSinkConfig()
		if err := config.DecodeStage(&p.Stages[0], src); err != nil {
			t.Fatal(err)
		}
		if err := config.DecodeStage(&p.Stages[1], sink); err != nil {
			t.Fatal(err)
		}
		if string(src.Password) != secret || string(sink.Password) != secret {
			t.Fatal("sasl_password was not read from the environment")
		}
		var b bytes.Buffer
		for _, v := range []any{src, *src, sink, *sink, src.ClientConfig, src.Security, src.Password} {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
				fmt.Fprintf(&b, verb+"\n", v)
			}
		}
		j, _ := json.Marshal(src)
		b.Write(j)
		log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&b), zap.DebugLevel))
		log.Info("config", zap.Any("source", src), zap.Any("sink", *sink), zap.Any("security", src.Security), zap.Any("password", src.Password),
			zap.Reflect("reflected", src), zap.Stringer("stringer", src.Password))
		log.Sugar().Infow("config", "source", src, "sink", sink)
		console := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&b), zap.DebugLevel))
		console.Debug("config", zap.Any("source", src))
		if strings.Contains(b.String(), secret) {
			t.Errorf("a printed or logged config shows the password:\n%s", b.String())
		}
		if !strings.Contains(b.String(), "[redacted]") || !strings.Contains(b.String(), e.User) {
			t.Errorf("expected the configs with the password redacted and the rest shown:\n%s", b.String())
		}
	})
}

// brokenSecretPipeline has the password (from the environment) in every
// place where a config error could echo it, and errors next to it.
const brokenSecretPipeline = `
[pipeline]
name = "broken-secret"

[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = "127.0.0.1:9192"
topic = "in"
group_id = "g"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-1"
sasl_username = "conveyor"
sasl_password = "${CONVEYOR_TEST_SASL_PASSWORD}"
sasl_pasword = "${CONVEYOR_TEST_SASL_PASSWORD}"

[[stages]]
id = "produce"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = "127.0.0.1:9192"
topic = "out"
security_protocol = "SASL_SSL"
sasl_mechanism = "PLAIN"
sasl_username = "conveyor"
sasl_password = ["${CONVEYOR_TEST_SASL_PASSWORD}"]

[[stages]]
id = "copy"
function = "kafka"
inputs = ["consume"]
[stages.config]
brokers = "127.0.0.1:9192"
topic = "copy"
security_protocol = "SSL"
sasl_username = "conveyor"
sasl_password = "${CONVEYOR_TEST_SASL_PASSWORD}"
`

// validateOutput is what `conveyor validate` prints for the pipeline:
// parse errors and registry errors together (cli's load).
func validateOutput(t *testing.T, text string) string {
	t.Helper()
	path := writePipeline(t, t.TempDir(), text)
	p, err := config.Load(path)
	if p == nil {
		return fmt.Sprintln(err)
	}
	all := config.Merge(err, flow.Validate(p))
	if all == nil {
		t.Fatal("the broken pipeline validated")
	}
	var errs config.Errors
	if !errors.As(all, &errs) {
		t.Fatalf("validate returned %T, not config.Errors", all)
	}
	return fmt.Sprintln(all)
}

// A record the sink cannot send (larger than its max_message_bytes) goes to
// the dead-letter topic on the secure cluster. Without brokers of its own,
// the dead-letter queue connects as the kafka sink does (SASL_SSL, its CA,
// its user); with brokers of its own it uses its own keys alone, here the
// SSL listener. Before, it dialled the brokers in PLAINTEXT and the run
// failed at start.
func TestIntegrationSecurityDeadLetterTopic(t *testing.T) {
	e := startSecure(t)
	sec := security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-256", User: e.User, PasswordFromEnv: true, CA: e.CAFile}
	for _, tc := range []struct {
		name     string
		listener string // where the dead-letter topic is read
		table    string // the dead-letter table's keys besides topic
	}{
		{"inherits the sink's security", "SASL_SSL", ""},
		{"own keys", "SSL", fmt.Sprintf("brokers = %q\nsecurity_protocol = \"SSL\"\ntls_ca_file = %q\n", e.SSL, e.CAFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, kd := e.tools(t, "SASL_SSL"), e.tools(t, tc.listener)
			in, out, dlq, group := kafkatest.Name("sec-in"), kafkatest.Name("sec-out"), kafkatest.Name("sec-dlq"), kafkatest.Name("sec-g")
			k.createTopic(t, in, 1)
			k.createTopic(t, out, 1)
			kd.createTopic(t, dlq, 1)
			msgs, _ := events(20)
			huge := fmt.Sprintf(`{"event_id":"huge","user_id":1,"blob":%q}`, strings.Repeat("x", 2000))
			msgs[7].Value = []byte(huge)
			for i := range msgs {
				msgs[i].Partition = 0
			}
			k.produce(t, in, msgs)
			text := copyPipeline(e.SASLSSL, in, out, group, len(msgs), sec) + fmt.Sprintf(`max_message_bytes = 1000

[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
topic = %q
%s`, dlq, tc.table)
			sum, err, took, logs := runSecure(t, text, e.Passwords["SCRAM-SHA-256"])
			if err != nil {
				t.Fatalf("run failed after %s: %v\nlogs:\n%s", took, err, logs)
			}
			if sum.In != 20 || sum.Out != 19 || sum.Failed != 1 || sum.DeadLettered != 1 {
				t.Errorf("summary %s; want in=20 out=19 failed=1 dead_lettered=1", sum)
			}
			if n := len(k.readAll(t, out)); n != 19 {
				t.Errorf("%d records in the output, want the 19 that fit", n)
			}
			dead := kd.readAll(t, dlq)
			if len(dead) != 1 {
				t.Fatalf("the dead-letter topic holds %d entries, want 1", len(dead))
			}
			var entry struct {
				Error, Stage string
				Offset       int64
				Record       struct {
					EventID string `json:"event_id"`
				}
			}
			if err := json.Unmarshal(dead[0].Value, &entry); err != nil {
				t.Fatalf("dead-letter entry %s: %v", dead[0].Value, err)
			}
			if entry.Stage != "produce" || entry.Offset != 7 || entry.Record.EventID != "huge" || !strings.Contains(entry.Error, "larger than max_message_bytes = 1000") {
				t.Errorf("dead-letter entry %.300s; want the huge record from produce at offset 7, too large", dead[0].Value)
			}
			k.assertCommittedAll(t, group, in)
		})
	}
}
