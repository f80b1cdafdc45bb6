package kafka

import (
	"math/rand/v2"

	"github.com/IBM/sarama"
)

// newPartitioner returns the sink's partitioner (the partitioner key): a
// keyed message goes to Java's murmur2 partition of its key, (murmur2(key)
// & 0x7fffffff) % partitions as Java's producer computes it (sarama's
// NewMurmur2Partitioner does exactly that; its default hash partitioner is
// FNV-1a, which puts keys elsewhere). A message without a key goes where
// keyless picks: at random ("murmur2"), in turn ("round_robin"), or to one
// partition until stickyBytes went there ("sticky"). With explicit set
// (partition_expr), a message's own Partition goes first unless it is -1;
// so does the Partition of a message whose write says so (pending.explicit:
// a changelog written through the run's transactional producer).
func newPartitioner(keyless string, explicit bool) sarama.PartitionerConstructor {
	return func(topic string) sarama.Partitioner {
		p := &partitioner{keyed: sarama.NewMurmur2Partitioner(topic), explicit: explicit}
		switch keyless {
		case "round_robin":
			p.keyless = sarama.NewRoundRobinPartitioner(topic)
		case "sticky":
			p.keyless = &stickyPartitioner{}
		default:
			p.keyless = sarama.NewRandomPartitioner(topic)
		}
		return p
	}
}

// partitioner is one topic's partitioner; sarama calls it from one
// goroutine per topic.
type partitioner struct {
	keyed, keyless sarama.Partitioner
	explicit       bool
}

func (p *partitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	switch {
	case m.Partition >= 0 && (p.explicit || ownPartition(m)):
		return m.Partition, nil
	case m.Key == nil:
		return p.keyless.Partition(m, n)
	}
	return p.keyed.Partition(m, n)
}

// RequiresConsistency: a keyed message must go to its key's partition,
// even one without a leader for now.
func (p *partitioner) RequiresConsistency() bool { return true }

// MessageRequiresConsistency lets a keyless message without a partition
// of its own go to any partition that has a leader (sarama then numbers
// only those).
func (p *partitioner) MessageRequiresConsistency(m *sarama.ProducerMessage) bool {
	return m.Key != nil || m.Partition >= 0 && (p.explicit || ownPartition(m))
}

// ownPartition reports whether m's write places it itself.
func ownPartition(m *sarama.ProducerMessage) bool {
	pd, ok := m.Metadata.(*pending)
	return ok && pd.explicit
}

// stickyBytes is how much goes to one partition before the sticky
// partitioner moves on: Java's default batch.size, as its uniform sticky
// partitioner (KIP-794) does.
const stickyBytes = 16 << 10

// stickyPartitioner sends keyless messages to one partition until
// stickyBytes went there, then to another one at random, so that they fill
// few produce batches (Java's way for keyless records).
type stickyPartitioner struct {
	current int32
	left    int
}

func (s *stickyPartitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if s.left <= 0 || s.current >= n {
		next := rand.Int32N(n)
		if n > 1 && next == s.current {
			next = (next + 1) % n
		}
		s.current, s.left = next, stickyBytes
	}
	s.left -= m.ByteSize(recordVersion)
	return s.current, nil
}

func (s *stickyPartitioner) RequiresConsistency() bool { return false }
