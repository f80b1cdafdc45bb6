package kafka

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/plugin"
)

// memoryJoin is a join over rows given in memory, without Kafka.
func memoryJoin(t *testing.T, mutate func(*TableJoinConfig), rows map[string]string) *TableJoin {
	t.Helper()
	c := DefaultTableJoinConfig()
	c.Brokers, c.TableTopic, c.Key, c.Into = []string{"localhost:9092"}, "users", "user_id", "user"
	if mutate != nil {
		mutate(c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var rs []TableRow
	for k, v := range rows {
		rs = append(rs, TableRow{Key: []byte(k), Value: []byte(v)})
	}
	j, err := NewTableJoinFromRows(c, "enrich", 1, rs)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func applyAll(t *testing.T, j *TableJoin, recs ...string) []string {
	in := make([]plugin.Record, len(recs))
	for i, r := range recs {
		in[i] = plugin.Record{Value: []byte(r), Offset: int64(i)}
	}
	var got, failed []string
	for _, r := range j.Apply(in, nil, func(i int, err error) { failed = append(failed, fmt.Sprintf("%d failed: %v", i, err)) }) {
		got = append(got, fmt.Sprintf("%d %s", r.Offset, r.Value))
	}
	return append(got, failed...) // the records out, then the failures
}

func TestTableJoinRecords(t *testing.T) {
	rows := map[string]string{"u1": `{"name": "Ann"}`, "7": `{"name":"Seven"}`, "1.0": `{"name":"one point oh"}`, "raw": `not json`, "k:x": `[1,2]`}
	j := memoryJoin(t, nil, rows)
	got := applyAll(t, j,
		`{"user_id":"u1","user":{"old":true},"x":1}`, // replaced in place of nothing: at the end
		`{"user_id":7}`,       // a number as written
		`{"user_id":1.0}`,     // as written, not 1
		`{"user_id":"raw"}`,   // a row that is not JSON: its text
		`{"user_id":"none"}`,  // no row: null (left)
		`{"user_id":null}`,    // no key
		`{"user_id":[1]}`,     // not a key
		`{}`,                  // no key
		`"just a string"`,     // not an object: fails
		`{"_kafka_key":"u1"}`, // the field only
	)
	want := []string{
		`0 {"user_id":"u1","x":1,"user":{"name":"Ann"}}`,
		`1 {"user_id":7,"user":{"name":"Seven"}}`,
		`2 {"user_id":1.0,"user":{"name":"one point oh"}}`,
		`3 {"user_id":"raw","user":"not json"}`,
		`4 {"user_id":"none","user":null}`,
		`5 {"user_id":null,"user":null}`,
		`6 {"user_id":[1],"user":null}`,
		`7 {"user":null}`,
		`9 {"_kafka_key":"u1","user":null}`,
		`8 failed: table.join: the record is not a JSON object`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An expression as the key.
	j = memoryJoin(t, func(c *TableJoinConfig) { c.Key = "'k:' + kind"; c.Into = "row" }, rows)
	if got := applyAll(t, j, `{"kind":"x"}`); len(got) != 1 || got[0] != `0 {"kind":"x","row":[1,2]}` {
		t.Fatalf("expression key: %q", got)
	}
	// _kafka_key reads the key as the sink's key_field does: its _base64
	// sibling when the key was not UTF-8.
	j = memoryJoin(t, func(c *TableJoinConfig) { c.Key = "_kafka_key" }, map[string]string{"\xff\x01": `{"bin":true}`})
	if got := applyAll(t, j, `{"_kafka_key_base64":"/wE="}`); len(got) != 1 || got[0] != `0 {"_kafka_key_base64":"/wE=","user":{"bin":true}}` {
		t.Fatalf("binary key: %q", got)
	}
}

// TestTableJoinTombstone: a tombstone deletes the row, and the row count.
func TestTableJoinTombstone(t *testing.T) {
	j := memoryJoin(t, func(c *TableJoinConfig) { c.Mode = ModeInner }, map[string]string{"u1": `{"a":1}`, "u2": `{"a":2}`})
	j.table.apply(j.table.parts[0].store, &sarama.ConsumerMessage{Key: []byte("u1")})
	j.table.apply(j.table.parts[0].store, &sarama.ConsumerMessage{Key: []byte("u9")}) // nothing to delete
	got := applyAll(t, j, `{"user_id":"u1"}`, `{"user_id":"u2"}`)
	if len(got) != 1 || got[0] != `1 {"user_id":"u2","user":{"a":2}}` || j.table.rows.Load() != 1 {
		t.Fatalf("%q, %d rows", got, j.table.rows.Load())
	}
}

// TestTableJoinAllocations: joining a batch allocates its output buffer,
// not a thing per record, when the key is a field.
func TestTableJoinAllocations(t *testing.T) {
	rows := map[string]string{}
	for i := range 100 {
		rows[fmt.Sprintf("u%d", i)] = fmt.Sprintf(`{"name":"n%d"}`, i)
	}
	j := memoryJoin(t, nil, rows)
	in := make([]plugin.Record, 100)
	for i := range in {
		in[i].Value = []byte(fmt.Sprintf(`{"order":%d,"user_id":"u%d"}`, i, i))
	}
	out := make([]plugin.Record, 0, len(in))
	// AllocsPerRun counts the whole process's allocations, other tests'
	// goroutines included: the least of three runs is this code's.
	allocs := math.Inf(1)
	for range 3 {
		allocs = min(allocs, testing.AllocsPerRun(50, func() { out = j.Apply(in, out[:0], func(int, error) {}) }))
	}
	if len(out) != len(in) || allocs > 2 {
		t.Fatalf("%d records out, %v allocations per batch of %d", len(out), allocs, len(in))
	}
}
