package engine

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/conveyor-etl/conveyor/plugin"
)

// Batches of several partitions of two sources reading the same origin,
// handled by goroutines that start in a random order and take random time,
// hand over in each source's partition's stamp order; a batch with nothing
// to hand over (pass) still holds the next one until the one before it
// has handed over.
func TestSequencerKeepsPartitionOrder(t *testing.T) {
	s := newSequencer()
	const parts, per = 3, 40
	sources := []string{"a", "b"}
	var msgs []*message.Message
	for i := range per {
		for p := range parts {
			for _, src := range sources {
				m := message.NewMessage(strconv.Itoa(i), nil)
				m.Metadata = message.Metadata{plugin.MetaOrigin: "t", plugin.MetaPartition: strconv.Itoa(p), "i": strconv.Itoa(i), "src": src}
				s.stamp(src, m)
				msgs = append(msgs, m)
			}
		}
	}
	var mu sync.Mutex
	got := map[string][]int{}
	var wg sync.WaitGroup
	for _, k := range rand.Perm(len(msgs)) {
		m := msgs[k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			tr := s.of(m)
			i, _ := strconv.Atoi(m.Metadata.Get("i"))
			if i%7 == 3 { // nothing to hand over
				tr.pass()
				return
			}
			if err := tr.wait(context.Background()); err != nil {
				t.Error(err)
			}
			mu.Lock()
			key := m.Metadata.Get("src") + "/" + m.Metadata.Get(plugin.MetaPartition)
			got[key] = append(got[key], i)
			mu.Unlock()
			tr.end()
		}()
	}
	wg.Wait()
	for key := range parts * len(sources) {
		p := sources[key%len(sources)] + "/" + strconv.Itoa(key/len(sources))
		seq := got[p]
		want := 0
		for _, i := range seq {
			for want%7 == 3 {
				want++
			}
			if i != want {
				t.Fatalf("partition %s handed over %v, want 0..%d without the passed ones, in order", p, seq, per-1)
			}
			want++
		}
		if len(seq) == 0 {
			t.Fatalf("partition %s handed over nothing", p)
		}
	}
	if n := len(s.turns); n != 0 {
		t.Errorf("%d turns left in the sequencer after every batch ended", n)
	}
}

// A waiting batch gives up when its context ends, and ending its turn then
// lets the next one go.
func TestSequencerWaitEndsWithContext(t *testing.T) {
	s := newSequencer()
	a, b := message.NewMessage("a", nil), message.NewMessage("b", nil)
	s.stamp("in", a)
	s.stamp("in", b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.of(b).wait(ctx); err == nil {
		t.Fatal("b went before a handed over")
	}
	s.of(a).end()
	if err := s.of(b).wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Two sources reading the same origin and partition (two kafka stages of
// different groups on one topic, or sql.outbox table "orders" beside topic
// "orders") keep separate orders: a batch of one never waits for a batch
// of the other.
func TestSequencerSourcesDoNotWaitForEachOther(t *testing.T) {
	s := newSequencer()
	stamp := func(src string) *message.Message {
		m := message.NewMessage(src, nil)
		m.Metadata = message.Metadata{plugin.MetaOrigin: "orders", plugin.MetaPartition: "0"}
		s.stamp(src, m)
		return m
	}
	slow := s.of(stamp("kafka-a")) // its sink is slow: it holds its turn
	fast := s.of(stamp("outbox"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := fast.wait(ctx); err != nil {
		t.Fatalf("a batch of source outbox waited for a batch of source kafka-a: %v", err)
	}
	fast.end()
	next := s.of(stamp("kafka-a"))
	select {
	case <-next.prev:
		t.Fatal("kafka-a's next batch did not wait for its previous one")
	default:
	}
	slow.end()
	next.end()
}
