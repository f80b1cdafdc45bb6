package kafka

import (
	"errors"

	"github.com/IBM/sarama"

	"github.com/conveyor-etl/conveyor/internal/errkind"
)

// The errors a kafka stage fails with, for embedders to branch on with
// errors.Is. Each is wrapped into an error whose text names the stage, the
// brokers or topic and what to change, and which still wraps the client's
// own error (a sarama.KError, a TLS or network error):
//
//	err := flow.Run(ctx, cfg)
//	switch {
//	case errors.Is(err, kafka.ErrUnreachable):    // retry later, page the broker's owner
//	case errors.Is(err, kafka.ErrAuthentication): // fix the credentials or certificates
//	}
//
// The sentinels' own texts never show in the messages a user reads.
var (
	// ErrUnreachable: no broker of the stage's brokers answered (refused,
	// timed out, closed the connection while it was being set up, or the
	// listener speaks another protocol than security_protocol).
	ErrUnreachable = errors.New("kafka: no broker reachable")

	// ErrAuthentication: a broker answered but the connection's identity
	// was refused or could not be established: SASL authentication failed
	// (wrong user or password, a mechanism the listener does not enable),
	// or TLS failed (the broker's certificate is not trusted or not for the
	// name dialled, or the broker refused the client certificate). With
	// SASL, a broker closing the connection while it is set up counts too:
	// brokers that do not answer SaslAuthenticate with an error refuse a
	// password that way (the message then names both likely causes).
	ErrAuthentication = errors.New("kafka: authentication failed")

	// ErrAuthorization: the broker authenticated the principal but its
	// ACLs refuse what the stage does: reading or committing for the
	// consumer group, describing, reading or writing the topic.
	ErrAuthorization = errors.New("kafka: not authorized")

	// ErrTopicNotFound: the stage's topic does not exist and the broker
	// does not create topics automatically.
	ErrTopicNotFound = errors.New("kafka: topic not found")

	// ErrGroupRefused: the broker refused the consumer group's join for a
	// reason retrying does not fix (session_timeout_ms outside the broker's
	// range, an assignment strategy other members do not use, a group_id
	// the broker does not accept, or an ACL, then with ErrAuthorization).
	ErrGroupRefused = errors.New("kafka: consumer group refused")

	// ErrCommitRefused: the group coordinator did not take an offset commit
	// (refused it, or did not answer for longer than the source waits), or
	// the group rebalanced before the final commit. The records whose
	// offsets were not committed are read again by the next run.
	ErrCommitRefused = errors.New("kafka: offset commit refused")
)

// accessKind is [ErrAuthorization] when err is a broker's refusal by ACL,
// else nothing: for mark(err, accessKind(cause)...).
func accessKind(err error) []error {
	for _, k := range []sarama.KError{sarama.ErrTopicAuthorizationFailed, sarama.ErrGroupAuthorizationFailed,
		sarama.ErrClusterAuthorizationFailed, sarama.ErrTransactionalIDAuthorizationFailed} {
		if errors.Is(err, k) {
			return []error{ErrAuthorization}
		}
	}
	return nil
}

// mark is errkind.Mark: err, same text, that errors.Is also matches
// against kinds.
func mark(err error, kinds ...error) error { return errkind.Mark(err, kinds...) }
