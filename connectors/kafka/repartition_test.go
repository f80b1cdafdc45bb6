package kafka

import (
	"testing"

	"github.com/IBM/sarama"
)

// A repartition topic puts a key where Java's producer (and so Kafka
// Streams' repartition topics) put it: (murmur2(key) & 0x7fffffff) %
// partitions, with murmur2 as Java computes it.
func TestRepartitionPartitionIsJavaMurmur2(t *testing.T) {
	for _, n := range []int32{1, 6, 7, 12} {
		r := &repartition{n: n, hash: sarama.NewMurmur2Partitioner("t")}
		for key, h := range javaMurmur2 {
			got, err := r.partition([]byte(key))
			if want := (h & 0x7fffffff) % n; err != nil || got != want {
				t.Errorf("%d partitions, key %q: partition %d (%v), want %d", n, key, got, err, want)
			}
		}
	}
}
