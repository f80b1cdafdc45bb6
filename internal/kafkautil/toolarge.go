package kafkautil

import (
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// ExplainTooLarge returns err with the settings that decide a record's
// largest size named, when err is the broker's refusal of a record as too
// large (sarama's text, "Message was too large, server rejected it to avoid
// allocation error", names none); other errors come back as they are.
// client names the client-side limit of the caller ("" for none).
func ExplainTooLarge(err error, client string) error {
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		return err
	}
	hint := "the topic's max.message.bytes (the broker's message.max.bytes when the topic does not set it) is smaller than the record: raise it " +
		"(kafka-configs.sh --alter --entity-type topics --entity-name TOPIC --add-config max.message.bytes=N)"
	if client != "" {
		hint += ", together with " + client
	}
	return fmt.Errorf("%w (%s)", err, hint)
}
