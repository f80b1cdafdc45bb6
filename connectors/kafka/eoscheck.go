package kafka

import (
	"slices"
	"strings"

	"github.com/conveyor-etl/conveyor/config"
)

// transactional is the kafka function's plugin.Spec.Transactional: a
// batching source with a group_instance_id, or a batching sink, can take
// part in an exactly-once pipeline. The cluster is the sorted broker list.
func transactional(cfg any) (cluster, instance string, err error) {
	switch c := cfg.(type) {
	case *SourceConfig:
		if c.Delivery == "per-message" {
			return "", "", config.Invalid("delivery", "guarantee = \"exactly-once\" needs delivery = \"batch\": the per-message source commits each record on its own, outside the transaction")
		}
		if strings.TrimSpace(c.GroupInstanceID) == "" {
			return "", "", config.Invalid("group_instance_id", "guarantee = \"exactly-once\" needs a stable instance identity: set group_instance_id (e.g. \"${HOSTNAME}\"), unique per running instance and the same across its restarts; the transactional producer is named after it, so that a restarted instance fences its old self")
		}
		return clusterOf(c.Brokers), c.GroupInstanceID, nil
	case *SinkConfig:
		if c.Delivery == "per-message" {
			return "", "", config.Invalid("delivery", "guarantee = \"exactly-once\" needs delivery = \"batch\": the per-message sink sends each record on its own producer, outside the transaction")
		}
		return clusterOf(c.Brokers), "", nil
	}
	return "", "", nil
}

// clusterOf names a cluster by its brokers, sorted.
func clusterOf(brokers []string) string {
	b := slices.Clone(brokers)
	slices.Sort(b)
	return strings.Join(b, ",")
}
