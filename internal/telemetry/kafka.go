package telemetry

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KafkaPartition is one partition as a kafka source sees it, at scrape
// time.
type KafkaPartition struct {
	Topic     string
	Partition int32
	// Lag is the end offset (as of the last fetch) minus the committed
	// offset.
	Lag int64
	// LagSeconds is the age of the oldest record read and not committed,
	// from its timestamp; 0 when every record read is committed.
	LagSeconds float64
	// LastCommit is when a commit of the partition was last confirmed;
	// zero when none was in this run.
	LastCommit time.Time
}

// KafkaSource is a kafka source stage's own metrics. Its methods do
// nothing on a nil *KafkaSource.
type KafkaSource struct {
	commitLatency prometheus.Histogram
	rebalances    prometheus.Counter
}

// NewKafkaSource registers a kafka source's metrics with reg (a stage's
// plugin.Env registerer); partitions is read at each scrape for the
// per-partition gauges, and must be quick and safe for concurrent use.
// Registering fails only when a stage registers twice; it is not an error
// worth stopping a pipeline for, so it is ignored.
func NewKafkaSource(reg prometheus.Registerer, partitions func() []KafkaPartition) *KafkaSource {
	k := &KafkaSource{
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: KafkaCommitLatency,
			Help:    "Seconds an OffsetCommit request took, sent to answered.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 10)}), // 0.5 ms .. 1.9 s
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: KafkaRebalances,
			Help: "Consumer group sessions the source started: one per assignment it received."}),
	}
	_ = reg.Register(k.commitLatency)
	_ = reg.Register(k.rebalances)
	_ = reg.Register(partitionCollector(partitions))
	return k
}

// Committed records a commit request that began at start and is answered.
func (k *KafkaSource) Committed(start time.Time) {
	if k != nil {
		k.commitLatency.Observe(time.Since(start).Seconds())
	}
}

// Rebalanced counts a new group session.
func (k *KafkaSource) Rebalanced() {
	if k != nil {
		k.rebalances.Inc()
	}
}

// NewKafkaProducerRetries registers a kafka sink's retry counter with reg.
func NewKafkaProducerRetries(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: KafkaProducerRetries,
		Help: "Times the Kafka sink's producer backed off to send records again after a failed produce request."})
	_ = reg.Register(c)
	return c
}

// RegisterTypeMismatch registers a filter stage's type-mismatch count, read
// from count at scrape time.
func RegisterTypeMismatch(reg prometheus.Registerer, count func() int64) {
	_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: TypeMismatch,
		Help: "Records whose comparison a filter could not make because the field's type does not match the value's (it counts as not equal)."},
		func() float64 { return float64(count()) }))
}

var (
	partLabels  = []string{LabelTopic, LabelPartition}
	lagDesc     = prometheus.NewDesc(KafkaConsumerLag, "Records between the partition's committed offset and its end offset (as of the last fetch).", partLabels, nil)
	lagSecDesc  = prometheus.NewDesc(KafkaConsumerLagSeconds, "Age in seconds of the partition's oldest record read and not yet committed, from its timestamp; 0 when all read records are committed.", partLabels, nil)
	lastCommDsc = prometheus.NewDesc(KafkaLastCommit, "Unix time of the partition's last confirmed offset commit in this run.", partLabels, nil)
)

// partitionCollector emits the per-partition gauges of the partitions a
// source holds at scrape time: a partition given up disappears.
type partitionCollector func() []KafkaPartition

func (partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- lagSecDesc
	ch <- lastCommDsc
}

func (f partitionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range f() {
		part := strconv.Itoa(int(p.Partition))
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(p.Lag), p.Topic, part)
		ch <- prometheus.MustNewConstMetric(lagSecDesc, prometheus.GaugeValue, p.LagSeconds, p.Topic, part)
		if !p.LastCommit.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastCommDsc, prometheus.GaugeValue, float64(p.LastCommit.UnixNano())/1e9, p.Topic, part)
		}
	}
}
