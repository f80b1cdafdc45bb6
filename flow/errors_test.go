package flow_test

// The sentinel errors embedders branch on: each failure, caused for real
// on an in-process broker (or a missing file), fails flow.Run with an
// error that errors.Is matches against its connector's sentinel, and
// against none of the others, while its text stays what it said before.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/internal/devkafka"
	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// sentinels are every exported error of the connectors, by name.
var sentinels = map[string]error{
	"kafka.ErrUnreachable":      kafka.ErrUnreachable,
	"kafka.ErrAuthentication":   kafka.ErrAuthentication,
	"kafka.ErrAuthorization":    kafka.ErrAuthorization,
	"kafka.ErrTopicNotFound":    kafka.ErrTopicNotFound,
	"kafka.ErrGroupRefused":     kafka.ErrGroupRefused,
	"kafka.ErrCommitRefused":    kafka.ErrCommitRefused,
	"jsonfile.ErrInputNotFound": jsonfile.ErrInputNotFound,
	"jsonfile.ErrInvalidRecord": jsonfile.ErrInvalidRecord,
	"jsonfile.ErrCannotAppend":  jsonfile.ErrCannotAppend,
}

// assertKinds checks that err matches exactly the sentinels named in want,
// that its text holds every one of text, and that no sentinel's own text
// shows in it.
func assertKinds(t *testing.T, err error, want []string, text ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the run succeeded; want it to fail with %v", want)
	}
	for name, s := range sentinels {
		wanted := false
		for _, w := range want {
			wanted = wanted || w == name
		}
		if got := errors.Is(err, s); got != wanted {
			t.Errorf("errors.Is(err, %s) = %v, want %v; err: %v", name, got, wanted, err)
		}
		if strings.Contains(err.Error(), s.Error()) {
			t.Errorf("the error shows the sentinel's text %q: %v", s, err)
		}
	}
	for _, w := range text {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestErrUnreachable(t *testing.T) {
	_, err := runText(t, etlText("127.0.0.1:1", "in", "out", "g", ""), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrUnreachable"}, "cannot reach brokers 127.0.0.1:1", "connection refused", "conveyor dev-kafka")
}

func TestErrAuthentication(t *testing.T) {
	const user = "conveyor"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", user, "Right-7f3a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	_, err = runText(t, fmt.Sprintf(`
[[stages]]
id = "consume"
function = "kafka"
[stages.config]
brokers = %q
topic = "in"
group_id = "g"
security_protocol = "SASL_PLAINTEXT"
sasl_mechanism = "SCRAM-SHA-256"
sasl_username = %q
sasl_password = "Wrong-7f3a"

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["consume"]
`, c.ListenAddrs()[0], user), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrAuthentication"}, "cannot reach brokers", "sasl_password")
}

func TestErrTopicNotFound(t *testing.T) {
	for _, tc := range []struct{ name, in, out, want string }{
		{"source", "no-such-topic", "out", `kafka source "consume": topic "no-such-topic" does not exist`},
		{"sink", "in", "no-such-topic", `kafka sink "produce": topic "no-such-topic" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := devkafka.Start(devkafka.Options{NoAutoCreate: true, Topics: map[string]int32{"in": 1, "out": 1}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, err = runText(t, etlText(b.Addr, tc.in, tc.out, "g", ""), time.Minute)
			assertKinds(t, err, []string{"kafka.ErrTopicNotFound"}, tc.want, "create it first")
		})
	}
}

func TestErrGroupRefused(t *testing.T) {
	b, err := devkafka.Start(devkafka.Options{MaxSessionTimeout: 20 * time.Second, Topics: map[string]int32{"in": 1, "out": 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = runText(t, etlText(b.Addr, "in", "out", "g", "session_timeout_ms = 30000\nmax_messages = 0"), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrGroupRefused"}, `consumer group "g": session_timeout_ms is outside the range the broker allows`)
}

// A group ACL refusing the join: the group is refused, and for want of an
// authorization.
func TestErrGroupAuthorization(t *testing.T) {
	env, c := kafkatest.StartEmbedded(t)
	env.CreateTopic(t, "in", 1)
	env.CreateTopic(t, "out", 1)
	env.Produce(t, "in", []kafkatest.Msg{{Value: []byte(`{"n":1}`)}})
	c.ControlKey(int16(kmsg.JoinGroup), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := kreq.(*kmsg.JoinGroupRequest).ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil, true
	})
	_, err := runText(t, etlText(env.BrokerList(), "in", "out", "g", "max_messages = 1"), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrGroupRefused", "kafka.ErrAuthorization"}, `consumer group "g": not authorized: grant this principal READ on the group`)
}

// The coordinator refusing every commit by ACL: the run stops, its commit
// refused and not authorized.
func TestErrCommitRefused(t *testing.T) {
	env, c := kafkatest.StartEmbedded(t)
	env.CreateTopic(t, "in", 1)
	env.CreateTopic(t, "out", 1)
	msgs, _ := events(10)
	for i := range msgs {
		msgs[i].Partition = 0
	}
	env.Produce(t, "in", msgs)
	var refuse atomic.Bool
	var refused atomic.Int64
	refuse.Store(true)
	refuseCommits(c, "g", kerr.GroupAuthorizationFailed.Code, &refuse, &refused)
	_, err := runText(t, etlText(env.BrokerList(), "in", "out", "g", "max_messages = 10"), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrCommitRefused", "kafka.ErrAuthorization"}, `kafka source "consume"`, "partition 0", "commit")
	if refused.Load() == 0 {
		t.Error("the broker refused no commit: the error came from elsewhere")
	}
}

// A topic ACL refusing the sink's writes: the records fail, not authorized.
func TestErrTopicAuthorization(t *testing.T) {
	env, c := kafkatest.StartEmbedded(t)
	env.CreateTopic(t, "in", 1)
	env.CreateTopic(t, "out", 1)
	env.Produce(t, "in", []kafkatest.Msg{{Value: []byte(`{"n":1}`)}})
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return produceError(kreq, kerr.TopicAuthorizationFailed), nil, true
	})
	_, err := runText(t, etlText(env.BrokerList(), "in", "out", "g", "max_messages = 1"), time.Minute)
	assertKinds(t, err, []string{"kafka.ErrAuthorization"}, `"produce"`, "authoriz")
}

func TestErrInputNotFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.json")
	_, err := runText(t, fmt.Sprintf(`
[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = %q

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["in"]
`, path), time.Minute)
	assertKinds(t, err, []string{"jsonfile.ErrInputNotFound"}, path, "no such file or directory")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false: %v", err)
	}
}

func TestErrInvalidRecord(t *testing.T) {
	dir := t.TempDir()
	in := writePipeline(t, dir, "{\"n\":1}\n{\"n\":\n")
	_, err := runText(t, fmt.Sprintf(`
[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = %q
format = "jsonl"

[[stages]]
id = "out"
function = "json.write"
inputs = ["in"]
[stages.config]
path = %q
`, in, filepath.Join(dir, "out.json")), time.Minute)
	assertKinds(t, err, []string{"jsonfile.ErrInvalidRecord"}, in, "line 2")
}

// TLS refusals, either way: the broker's certificate not trusted, the
// client's missing where the listener requires one.
func TestErrAuthenticationTLS(t *testing.T) {
	e := startSecure(t)
	for _, tc := range []struct {
		name, brokers, listener string
		sec                     security
		text                    string
	}{
		{"untrusted CA", e.SSL, "SSL", security{Protocol: "SSL", CA: e.UntrustedCAFile}, "tls_ca_file"},
		{"no client certificate", e.MTLS, "MTLS", security{Protocol: "SSL", CA: e.CAFile}, "tls_cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := e.tools(t, tc.listener)
			in, out := kafkatest.Name("err-in"), kafkatest.Name("err-out")
			k.createTopic(t, in, 1)
			k.createTopic(t, out, 1)
			_, err, _, _ := runSecure(t, copyPipeline(tc.brokers, in, out, kafkatest.Name("err-g"), 1, tc.sec), "")
			assertKinds(t, err, []string{"kafka.ErrAuthentication"}, "cannot reach brokers "+tc.brokers, tc.text)
		})
	}
}

func TestErrCannotAppend(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.json")
	writeFileT(t, in, "{\"n\":1}\n")
	writeFileT(t, out, "{\"n\":0}\n") // JSON Lines, where a JSON array is to be appended to
	_, err := runText(t, fmt.Sprintf(`
[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = %q

[[stages]]
id = "out"
function = "json.write"
inputs = ["in"]
[stages.config]
path = %q
format = "records"
mode = "append"
`, in, out), time.Minute)
	assertKinds(t, err, []string{"jsonfile.ErrCannotAppend"}, "cannot append to "+out, "mode = \"overwrite\"")
}

func writeFileT(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
