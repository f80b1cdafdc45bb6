// Package devkafka runs an in-process Kafka-protocol broker (franz-go's
// kfake) on 127.0.0.1 for `conveyor demo`, `conveyor dev-kafka` and tests.
// It is for trying things out: it keeps data in memory and is not Kafka.
package devkafka

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configure the broker.
type Options struct {
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Partitions of topics created automatically (on first use). Default 3.
	Partitions int
	// Topics to create at start, with their partition counts.
	Topics map[string]int32
	// NoAutoCreate makes unknown topics an error, like a broker with
	// auto.create.topics.enable=false.
	NoAutoCreate bool
	// MaxSessionTimeout is the broker's group.max.session.timeout.ms
	// (kfake's default when zero).
	MaxSessionTimeout time.Duration
}

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
	// Addr is host:port to give clients.
	Addr string
}

// Start starts a one-node broker.
func Start(o Options) (*Broker, error) {
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(o.Port), kfake.DefaultNumPartitions(o.Partitions), kfake.ClusterID("conveyor-dev")}
	if !o.NoAutoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if o.MaxSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMaxSessionTimeout(o.MaxSessionTimeout))
	}
	for name, parts := range o.Topics {
		opts = append(opts, kfake.SeedTopics(parts, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("in-process broker: %w", err)
	}
	return &Broker{cluster: c, Addr: c.ListenAddrs()[0]}, nil
}

// Cluster is the kfake cluster, for tests that inject faults with its
// Control functions.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker.
func (b *Broker) Close() { b.cluster.Close() }
