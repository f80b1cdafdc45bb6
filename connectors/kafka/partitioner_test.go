package kafka

import (
	"testing"

	"github.com/IBM/sarama"
)

// javaMurmur2 holds org.apache.kafka.common.utils.Utils.murmur2 of keys, as
// Java computes them (signed): the values of Apache Kafka's UtilsTest, and
// those Akka checks its port against.
var javaMurmur2 = map[string]int32{
	"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
	"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
	"abc": 479470107,
	"1":   -1993445489, "12": 126087238, "123": -267702483, "1234": -1614185708, "12345": -1188365604,
}

// A keyed message goes to the partition Java's producer picks for its key,
// (murmur2(key) & 0x7fffffff) % partitions, whatever the keyless strategy.
func TestPartitionerJavaMurmur2(t *testing.T) {
	for _, keyless := range []string{"murmur2", "round_robin", "sticky"} {
		p := newPartitioner(keyless, false)("t")
		for key, h := range javaMurmur2 {
			for _, n := range []int32{1, 3, 7, 12, 100} {
				want := (h & 0x7fffffff) % n
				got, err := p.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
				if err != nil || got != want {
					t.Errorf("%s: key %q over %d partitions: %d, %v; Java puts it on %d", keyless, key, n, got, err, want)
				}
			}
		}
		if keyless == "murmur2" { // sarama's default hash partitioner (FNV-1a) is not Java's
			fnv, differs := sarama.NewHashPartitioner("t"), 0
			for key, h := range javaMurmur2 {
				if got, _ := fnv.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, 100); got != (h&0x7fffffff)%100 {
					differs++
				}
			}
			if differs == 0 {
				t.Error("sarama's default partitioner agrees with Java on every key: the test vectors do not tell them apart")
			}
		}
		if !p.(sarama.DynamicConsistencyPartitioner).MessageRequiresConsistency(&sarama.ProducerMessage{Key: sarama.StringEncoder("k")}) {
			t.Errorf("%s: a keyed message may go to another partition when its own has no leader", keyless)
		}
	}
}

// Keyless messages: round_robin cycles, sticky stays on one partition for
// 16 KiB then moves to another, murmur2 spreads them at random.
func TestPartitionerKeyless(t *testing.T) {
	msg := &sarama.ProducerMessage{Value: sarama.ByteEncoder(make([]byte, 1000))}
	rr := newPartitioner("round_robin", false)("t")
	for i := range 10 {
		if got, _ := rr.Partition(msg, 4); got != int32(i%4) {
			t.Fatalf("round_robin: message %d on %d, want %d", i, got, i%4)
		}
	}
	st := newPartitioner("sticky", false)("t")
	var got []int32
	for range 40 { // 40 × ~1 KB: two moves
		p, _ := st.Partition(msg, 4)
		got = append(got, p)
	}
	moves := 0
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1] {
			moves++
			if run := i % 16; run != 0 && i < 32 {
				t.Fatalf("sticky moved after %d messages of 1 KB: %v", i, got)
			}
		}
	}
	if moves != 2 {
		t.Errorf("sticky: %d moves over 40 KB, want 2 (one per 16 KiB): %v", moves, got)
	}
	rnd := newPartitioner("murmur2", false)("t")
	seen := map[int32]bool{}
	for range 200 {
		p, _ := rnd.Partition(msg, 4)
		seen[p] = true
	}
	if len(seen) != 4 {
		t.Errorf("murmur2: keyless messages went to partitions %v only", seen)
	}
}
