package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
	"github.com/conveyor-etl/conveyor/internal/kafkautil"
)

// lagTopic makes a topic of 3 partitions holding 34, 33 and 33 records and
// commits, for group, offset 10 on partition 0 and 33 on partition 2, and
// nothing on partition 1.
func lagTopic(t *testing.T, env kafkatest.Env, topic, group string) {
	t.Helper()
	env.CreateTopic(t, topic, 3)
	msgs := make([]kafkatest.Msg, 100)
	for i := range msgs {
		msgs[i] = kafkatest.Msg{Partition: int32(i % 3), Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	env.Produce(t, topic, msgs)
	admin, err := sarama.NewClusterAdmin(env.Brokers, kafkautil.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.AlterConsumerGroupOffsets(group, map[string]map[int32]sarama.OffsetAndMetadata{
		topic: {0: {Offset: 10}, 2: {Offset: 33}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range resp.Errors {
		for p, kerr := range parts {
			if kerr != sarama.ErrNoError {
				t.Fatalf("commit partition %d: %v", p, kerr)
			}
		}
	}
}

// lagPipeline writes a pipeline reading topic with two kafka sources: group
// (from earliest) and fresh, a group that has committed nothing, from latest.
func lagPipeline(t *testing.T, brokers, topic, group, fresh string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lag.toml")
	text := fmt.Sprintf(`[[stages]]
id = "orders"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[3]q

[[stages]]
id = "audit"
function = "kafka"
[stages.config]
brokers = %[1]q
topic = %[2]q
group_id = %[4]q
start_offset = "latest"

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["orders", "audit"]
`, brokers, topic, group, fresh)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLagPipeline checks the per-partition committed offsets, end offsets
// and lags `conveyor lag PIPELINE.toml` prints for each kafka source, with
// "-" where nothing is committed, and the total.
func TestLagPipeline(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group, fresh := kafkatest.Name("lag"), kafkatest.Name("g"), kafkatest.Name("fresh")
	lagTopic(t, env, topic, group)
	path := lagPipeline(t, env.BrokerList(), topic, group, fresh)

	code, stdout, stderr := cli(t, "lag", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := strings.NewReplacer("{group}", group, "{fresh}", fresh, "{topic}", topic).Replace(`stage "orders": group "{group}", topic "{topic}", start_offset = earliest
TOPIC  PARTITION  COMMITTED  END  LAG
{topic}  0  10  34  24
{topic}  1  -   33  33
{topic}  2  33  33  0
TOTAL  57

stage "audit": group "{fresh}", topic "{topic}", start_offset = latest
TOPIC  PARTITION  COMMITTED  END  LAG
{topic}  0  -  34  0
{topic}  1  -  33  0
{topic}  2  -  33  0
TOTAL  0
`)
	if got := squeeze(stdout); got != squeeze(want) {
		t.Errorf("got:\n%s\nwant:\n%s", stdout, want)
	}
}

// squeeze collapses runs of spaces, so that column widths (which depend on
// the generated topic name) do not matter.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// TestLagFlagsJSON checks `conveyor lag --group --topic --brokers` without
// a pipeline, as JSON: null where nothing is committed, lag from the log
// start, the total.
func TestLagFlagsJSON(t *testing.T) {
	env := kafkatest.Start(t)
	topic, group := kafkatest.Name("lag"), kafkatest.Name("g")
	lagTopic(t, env, topic, group)

	code, stdout, stderr := cli(t, "lag", "--group", group, "--topic", topic, "--brokers", env.BrokerList(), "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Stages []lagReport `json:"stages"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(got.Stages) != 1 {
		t.Fatalf("want 1 report, got %s", stdout)
	}
	r := got.Stages[0]
	if r.Stage != "" || r.Group != group || r.Topic != topic || r.StartOffset != "earliest" || r.TotalLag != 57 || r.Error != "" {
		t.Errorf("report: %s", stdout)
	}
	wants := []struct {
		committed      string
		start, end, lg int64
	}{{"10", 0, 34, 24}, {"null", 0, 33, 33}, {"33", 0, 33, 0}}
	if len(r.Partitions) != len(wants) {
		t.Fatalf("partitions: %s", stdout)
	}
	for i, w := range wants {
		p := r.Partitions[i]
		c := "null"
		if p.Committed != nil {
			c = fmt.Sprint(*p.Committed)
		}
		if p.Partition != int32(i) || c != w.committed || p.Start != w.start || p.End != w.end || p.Lag != w.lg {
			t.Errorf("partition %d: got %+v committed %s, want %+v", i, p, c, w)
		}
	}

	// The same as text, --format after the flags that name the group.
	code, stdout, _ = cli(t, "lag", "--group", group, "--topic", topic, "--brokers", env.BrokerList())
	if code != 0 || !strings.HasPrefix(stdout, fmt.Sprintf("group %q, topic %q, start_offset = earliest\n", group, topic)) ||
		!strings.HasSuffix(squeeze(stdout), "\nTOTAL 57\n") {
		t.Errorf("text: exit %d\n%s", code, stdout)
	}
}

// TestLagErrors checks what a user sees for a topic that does not exist
// (and that looking does not create it), a broker nobody listens on and
// wrong arguments.
func TestLagErrors(t *testing.T) {
	env := kafkatest.Start(t)
	topic := kafkatest.Name("missing")
	code, stdout, stderr := cli(t, "lag", "--group", "g", "--topic", topic, "--brokers", env.BrokerList())
	want := fmt.Sprintf("conveyor lag: kafka: topic %q does not exist on [%s]\n", topic, env.BrokerList())
	if code != 1 || stderr != want || stdout != "" {
		t.Errorf("unknown topic: exit %d, stdout %q, stderr %q, want stderr %q", code, stdout, stderr, want)
	}
	if topicExists(t, env, topic) {
		t.Errorf("conveyor lag created topic %q (the test broker creates topics on first use)", topic)
	}

	path := lagPipeline(t, env.BrokerList(), topic, "g", "h")
	code, _, stderr = cli(t, "lag", path)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("conveyor lag: kafka source %q: topic %q does not exist", "orders", topic)) ||
		!strings.Contains(stderr, fmt.Sprintf("conveyor lag: kafka source %q: topic %q does not exist", "audit", topic)) {
		t.Errorf("unknown topic in a pipeline: exit %d, stderr %q", code, stderr)
	}

	code, _, stderr = cli(t, "lag", "--group", "g", "--topic", "t", "--brokers", "127.0.0.1:1")
	if code != 1 || !strings.HasPrefix(stderr, "conveyor lag: kafka: cannot reach brokers 127.0.0.1:1: ") || !strings.Contains(stderr, "conveyor dev-kafka") {
		t.Errorf("unreachable broker: exit %d, stderr %q", code, stderr)
	}

	for _, args := range [][]string{{"lag"}, {"lag", "--group", "g"}, {"lag", path, "--group", "g"}, {"lag", "--bogus", path}, {"lag", "--format", "xml", path}} {
		if code, _, stderr := cli(t, args...); code != 2 || stderr == "" {
			t.Errorf("conveyor %s: exit %d, stderr %q; want 2 and a message", strings.Join(args, " "), code, stderr)
		}
	}
	if code, stdout, stderr := cli(t, "lag", "--help"); code != 0 || !strings.HasPrefix(stdout, "usage:") || !strings.Contains(stdout, "-brokers") || stderr != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// topicExists asks the broker without letting it create the topic.
func topicExists(t *testing.T, env kafkatest.Env, topic string) bool {
	t.Helper()
	sc := kafkautil.Config()
	sc.Metadata.AllowAutoTopicCreation = false
	client, err := sarama.NewClient(env.Brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topics, err := client.Topics()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(topics, topic)
}

// TestLagSASL checks that `conveyor lag` connects with the stage's security
// settings (SASL SCRAM-SHA-256 against a broker that requires it), and that
// a wrong password gets the connector's hint and is never printed.
func TestLagSASL(t *testing.T) {
	const user, password = "conveyor", "Tapir-0e5d2b-lag"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", user, password), kfake.Superuser("SCRAM-SHA-256", user, password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()

	// Set up over PLAIN: 5 records in partition 1, group g at 2 there.
	sc := kafkautil.Config()
	sc.Net.SASL.Enable, sc.Net.SASL.Mechanism, sc.Net.SASL.User, sc.Net.SASL.Password = true, sarama.SASLTypePlaintext, user, password
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic("secure", &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err != nil {
		t.Fatal(err)
	}
	producer, err := sarama.NewSyncProducer(brokers, sc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "secure", Partition: 1, Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	producer.Close()
	if _, err := admin.AlterConsumerGroupOffsets("g", map[string]map[int32]sarama.OffsetAndMetadata{"secure": {1: {Offset: 2}}}, nil); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "secure.toml")
	text := fmt.Sprintf(`[[stages]]
id = "in"
function = "kafka"
[stages.config]
brokers = %q
topic = "secure"
group_id = "g"
security_protocol = "SASL_PLAINTEXT"
sasl_mechanism = "SCRAM-SHA-256"
sasl_username = %q
sasl_password = "${CONVEYOR_TEST_LAG_PASSWORD}"

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["in"]
`, brokers[0], user)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONVEYOR_TEST_LAG_PASSWORD", password)
	code, stdout, stderr := cli(t, "lag", path)
	want := `stage "in": group "g", topic "secure", start_offset = earliest
TOPIC PARTITION COMMITTED END LAG
secure 0 - 0 0
secure 1 2 5 3
secure 2 - 0 0
TOTAL 3
`
	if code != 0 || squeeze(stdout) != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}

	t.Setenv("CONVEYOR_TEST_LAG_PASSWORD", "wrong-"+password)
	code, stdout, stderr = cli(t, "lag", path)
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, `conveyor lag: kafka source "in": cannot reach brokers `) ||
		!strings.Contains(stderr, "check sasl_username, sasl_password and sasl_mechanism") { // kfake hangs up: the EOF hint
		t.Errorf("wrong password: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Errorf("the password is printed: %s", stderr)
	}
}
