package kafka

import (
	"errors"
	"sync"

	"github.com/IBM/sarama"
)

// commitConn is a connection of its own to the group coordinator, for the
// source's OffsetCommit requests only.
//
// A broker answers the requests of one connection one at a time, in order.
// On the client's shared connection to the coordinator (which, with one
// broker or when the coordinator also leads the topic's partitions, is the
// fetch connection) a commit waited behind a fetch long poll (up to
// MaxWaitTime once the source had caught up), and every fetch waited behind
// the commit before it: with commits coalesced back to back, reading
// alternated with committing, and at 10k records/s half of the pipeline's
// latency was that queue (benchmarks/RESULTS.md). On a connection of its
// own a commit goes at once and fetches never wait for one.
//
// It is safe for concurrent use; the source sends one commit at a time
// anyway (sendMu).
type commitConn struct {
	client sarama.Client
	group  string

	mu     sync.Mutex
	broker *sarama.Broker // nil until the first commit, and after a failure
	addr   string         // the coordinator broker was opened to
}

func newCommitConn(client sarama.Client, group string) *commitConn {
	return &commitConn{client: client, group: group}
}

// commit sends req to the group's coordinator on the dedicated connection,
// opening (or, when the coordinator moved, reopening) it first. On an error
// the connection is dropped, so that the next commit reconnects to whatever
// broker is coordinator then.
func (c *commitConn) commit(req *sarama.OffsetCommitRequest) (*sarama.OffsetCommitResponse, error) {
	b, err := c.conn()
	if err != nil {
		return nil, err
	}
	resp, err := b.CommitOffset(req)
	if err != nil {
		c.drop(b)
	}
	return resp, err
}

// conn returns the open connection to the current coordinator.
func (c *commitConn) conn() (*sarama.Broker, error) {
	coord, err := c.client.Coordinator(c.group)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broker != nil && c.addr == coord.Addr() {
		return c.broker, nil
	}
	if c.broker != nil {
		_ = c.broker.Close()
	}
	b := sarama.NewBroker(coord.Addr())
	if err := b.Open(c.client.Config()); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
		return nil, err
	}
	c.broker, c.addr = b, coord.Addr()
	return b, nil
}

// drop closes b if it is still the connection in use.
func (c *commitConn) drop(b *sarama.Broker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broker == b {
		_ = b.Close()
		c.broker, c.addr = nil, ""
	}
}

// Close closes the connection.
func (c *commitConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broker == nil {
		return nil
	}
	err := c.broker.Close()
	c.broker, c.addr = nil, ""
	if errors.Is(err, sarama.ErrNotConnected) {
		return nil
	}
	return err
}
