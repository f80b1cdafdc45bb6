package kafka

import (
	"strings"
	"testing"
	"time"
)

// The spec's bounds stay when until is not set (1000 records, 30 s);
// until = "end" lifts the count unless max_messages is set, and keeps the
// 30 s default timeout.
func TestUntilEndDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		set      func(*SourceConfig)
		limit    int64
		deadline time.Duration
	}{
		{"spec defaults", func(*SourceConfig) {}, 1000, 30 * time.Second},
		{"streaming", func(c *SourceConfig) { c.MaxMessages = 0 }, 0, 0},
		{"until end", func(c *SourceConfig) { c.Until = UntilEnd }, 0, 30 * time.Second},
		{"until end, max_messages", func(c *SourceConfig) { c.Until, c.MaxMessages = UntilEnd, 50 }, 50, 30 * time.Second},
		{"until end, timeout", func(c *SourceConfig) { c.Until, c.Timeout = UntilEnd, 5*time.Second }, 0, 5 * time.Second},
	} {
		c := DefaultSourceConfig()
		tc.set(c)
		if got := c.Limit(); got != tc.limit {
			t.Errorf("%s: Limit() = %d, want %d", tc.name, got, tc.limit)
		}
		if got := c.Deadline(); got != tc.deadline {
			t.Errorf("%s: Deadline() = %s, want %s", tc.name, got, tc.deadline)
		}
	}
}

func TestUntilValidate(t *testing.T) {
	valid := func() *SourceConfig {
		c := DefaultSourceConfig()
		c.Brokers, c.Topic, c.GroupID = []string{"localhost:9092"}, "t", "g"
		return c
	}
	for _, tc := range []struct {
		until, delivery string
		want            string // "" for valid
	}{
		{"", "batch", ""},
		{"end", "batch", ""},
		{"latest", "batch", `want "end" (stop once caught up with the end offsets seen when the partitions were assigned) or "" (no such bound), got "latest"`},
		{"end", "per-message", `needs delivery = "batch"`},
	} {
		c := valid()
		c.Until, c.Delivery = tc.until, tc.delivery
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("until = %q, delivery = %q: %v", tc.until, tc.delivery, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("until = %q, delivery = %q: error %v, want one saying %s", tc.until, tc.delivery, err, tc.want)
		}
	}
}
