package sql

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/internal/wmlog"
	"github.com/conveyor-etl/conveyor/plugin"
)

// open connects to the database of c.DSN and checks that it answers within
// dial_timeout_ms. Errors name the server (host, port, database), never
// the DSN, which may hold a password.
func open(c *ConnConfig) (*stdsql.DB, error) {
	pc, err := pgx.ParseConfig(string(c.DSN))
	if err != nil {
		return nil, fmt.Errorf("dsn: cannot parse it (%v)", redactDSN(err, string(c.DSN)))
	}
	pc.ConnectTimeout = c.DialTimeout
	db := stdlib.OpenDB(*pc)
	ctx, cancel := context.WithTimeout(context.Background(), c.DialTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s:%d (database %q): %w", pc.Host, pc.Port, pc.Database, err)
	}
	return db, nil
}

// redactDSN keeps the DSN out of a parse error.
func redactDSN(err error, dsn string) string {
	if dsn == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), dsn, "[dsn]")
}

// schema is watermill-sql's default PostgreSQL schema with our payload
// type.
func schema(c *ConnConfig) wsql.DefaultPostgreSQLSchema {
	return wsql.DefaultPostgreSQLSchema{GeneratePayloadType: func(string) string { return c.PayloadType }}
}

func logger(env plugin.Env) watermill.LoggerAdapter {
	if env.Logger == nil {
		return wmlog.New(zap.NewNop())
	}
	return wmlog.New(env.Logger)
}

// NewPublisher returns watermill-sql's Publisher over c's database: each
// Publish is one autocommitted INSERT (or, over max_rows_per_insert, one
// per that many rows), so the rows are committed when it returns.
// Closing it closes the database handle.
func NewPublisher(c *WriteConfig, env plugin.Env) (message.Publisher, error) {
	// A config built in Go skips the file's checks; the topic comes with
	// each Publish, but a statement size under 1 would loop for ever.
	if c.MaxRowsPerInsert < 1 {
		return nil, config.Invalid("max_rows_per_insert", "must be at least 1, got %d", c.MaxRowsPerInsert)
	}
	db, err := open(&c.ConnConfig)
	if err != nil {
		return nil, err
	}
	pub, err := wsql.NewPublisher(wsql.BeginnerFromStdSQL(db), wsql.PublisherConfig{SchemaAdapter: schema(&c.ConnConfig), AutoInitializeSchema: c.InitializeSchema}, logger(env))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &publisher{pub: pub, db: db, most: c.MaxRowsPerInsert}, nil
}

type publisher struct {
	pub  *wsql.Publisher
	db   *stdsql.DB
	most int
}

// Publish inserts the messages, at most p.most per statement.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	for len(msgs) > 0 {
		n := min(len(msgs), p.most)
		if err := p.pub.Publish(topic, msgs[:n]...); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (p *publisher) Close() error {
	return errors.Join(p.pub.Close(), p.db.Close())
}

// NewSubscriber returns watermill-sql's Subscriber over c's database, with
// its PostgreSQL offsets adapter for c's consumer group. Closing it closes
// the database handle.
func NewSubscriber(c *OutboxConfig, env plugin.Env) (message.Subscriber, error) {
	db, err := open(&c.ConnConfig)
	if err != nil {
		return nil, err
	}
	sch := schema(&c.ConnConfig)
	sch.SubscribeBatchSize = c.BatchSize
	deadline := c.AckDeadline
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db), wsql.SubscriberConfig{
		ConsumerGroup:    c.ConsumerGroup,
		AckDeadline:      &deadline,
		PollInterval:     c.PollInterval,
		SchemaAdapter:    sch,
		OffsetsAdapter:   wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: c.InitializeSchema,
	}, logger(env))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &subscriber{sub: sub, db: db}, nil
}

type subscriber struct {
	sub *wsql.Subscriber
	db  *stdsql.DB
}

func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return s.sub.Subscribe(ctx, topic)
}

// Close closes the Subscriber, which stores the offset of the rows acked
// so far as it ends its query's transaction, then the database handle.
func (s *subscriber) Close() error {
	return errors.Join(s.sub.Close(), s.db.Close())
}
