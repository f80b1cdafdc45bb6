package kafka

import (
	"testing"

	"github.com/conveyor-etl/conveyor/plugin"
)

// A fetch request is bounded by an eighth of the run's budget unless
// fetch_max_bytes says otherwise, and never below one partition's fetch,
// whatever the number of partitions (what sarama holds grows with it).
func TestFetchBytes(t *testing.T) {
	cases := []struct {
		name              string
		budgetMB          int64
		maxBytes, perPart int
		want              int
	}{
		{"default budget", 64, 0, 0, 8 << 20},
		{"small budget keeps one partition's fetch", 4, 0, 0, 1 << 20},
		{"small budget, larger partition fetch", 4, 0, 2 << 20, 2 << 20},
		{"fetch_max_bytes wins", 64, 3 << 20, 0, 3 << 20},
		{"no budget: Kafka's default", 0, 0, 0, 50 << 20},
	}
	for _, c := range cases {
		cfg := DefaultSourceConfig()
		cfg.FetchMaxBytes, cfg.FetchPartitionBytes = c.maxBytes, c.perPart
		s := &Source{cfg: cfg, env: plugin.Env{Budget: plugin.NewBudget(c.budgetMB << 20)}}
		if got := s.fetchBytes(); got != c.want {
			t.Errorf("%s: fetchBytes = %d, want %d", c.name, got, c.want)
		}
	}
}
