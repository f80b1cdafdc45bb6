package kafka

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"github.com/conveyor-etl/conveyor/internal/backoff"
)

// protocolVersion is the Kafka protocol level spoken to brokers. 3.0 is old
// enough for every supported broker (Kafka 4 dropped the pre-2.1 requests)
// and new enough for idempotent producing and incremental fetches.
var protocolVersion = sarama.V3_0_0_0

// saramaConfig turns the client config into sarama's.
func (c *ClientConfig) saramaConfig() (*sarama.Config, error) {
	sc := sarama.NewConfig()
	sc.Version = protocolVersion
	sc.ClientID = c.ClientID
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.ReadTimeout = 30 * time.Second
	sc.Net.WriteTimeout = 30 * time.Second
	sc.Metadata.Retry.Max = 5
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	// Asking for a topic's metadata never creates it, whatever the broker's
	// auto.create.topics.enable: see topic.go.
	sc.Metadata.AllowAutoTopicCreation = false
	if err := c.Security.apply(sc); err != nil {
		return nil, err
	}
	return sc, nil
}

// makePatient makes a client that failed fast while its caller checked
// brokers and topics (a few metadata attempts) wait out a broker that
// restarts or a leader that moves: metadata is retried with backoff for
// about two minutes, as Java clients wait delivery.timeout.ms, instead of
// failing the records in flight. Call it before the client is used concurrently: sarama reads
// these settings from the client's *Config on each refresh.
func makePatient(client sarama.Client) {
	sc := client.Config()
	sc.Metadata.Retry.Max = patientRetries
	sc.Metadata.Retry.BackoffFunc = expBackoff(250*time.Millisecond, 2*time.Second)
}

// patientRetries with expBackoff(250ms, 2s) spans about two minutes.
const patientRetries = 64

// expBackoff is backoff.Exp as sarama's BackoffFunc (whose retries count
// from 0).
func expBackoff(first, most time.Duration) func(retries, maxRetries int) time.Duration {
	return func(retries, _ int) time.Duration { return backoff.Exp(first, most, retries+1) }
}

func (s *Security) apply(sc *sarama.Config) error {
	if strings.HasSuffix(s.Protocol, "SSL") {
		tc, err := s.tlsConfig()
		if err != nil {
			return err
		}
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	if strings.HasPrefix(s.Protocol, "SASL") {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.User = s.Username
		sc.Net.SASL.Password = string(s.Password)
		switch s.Mechanism {
		case "PLAIN":
			sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case "SCRAM-SHA-256":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{gen: scram.HashGeneratorFcn(sha256.New)} }
		case "SCRAM-SHA-512":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{gen: scram.HashGeneratorFcn(sha512.New)} }
		}
	}
	return nil
}

func (s *Security) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.SkipVerify, ServerName: s.TLSServerName} //nolint:gosec // opt-in, documented as testing only
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file %s: no PEM certificates in it", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// scramClient adapts xdg-go/scram to sarama.SCRAMClient.
type scramClient struct {
	gen  scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := c.gen.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }

// reachError explains a failure to connect, naming the stage (when stage
// is not "") and the brokers but never credentials, with a hint at the
// likely cause.
// The error is marked ErrAuthentication when SASL or TLS refused the
// connection, else ErrUnreachable.
func reachError(role, stage string, c *ClientConfig, err error) error {
	kind := ErrUnreachable
	if authFailure(&c.Security, err) {
		kind = ErrAuthentication
	}
	return mark(fmt.Errorf("%s: cannot reach brokers %s: %w%s", who(role, stage), strings.Join(c.Brokers, ","), err, connectHint(&c.Security, err)), kind)
}

// authFailure reports a connection that a broker answered but whose
// identity SASL or TLS refused: the failures connectHint explains as such,
// and, with SASL, a connection the broker closed while it was being set
// up, which is how brokers without SaslAuthenticate error responses
// (kfake, older Kafka) refuse a password. Without SASL a closed connection
// is ErrUnreachable: most likely a listener of another protocol.
func authFailure(s *Security, err error) bool {
	var (
		hostErr   x509.HostnameError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
	)
	return errors.Is(err, sarama.ErrSASLAuthenticationFailed) || errors.Is(err, sarama.ErrUnsupportedSASLMechanism) ||
		errors.As(err, &hostErr) || errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &verifyErr) ||
		remoteCertRefused(err.Error()) ||
		(strings.HasPrefix(s.Protocol, "SASL") && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)))
}

// remoteCertRefused reports a TLS alert by which the broker refused the
// client's certificate (or its lack of one).
func remoteCertRefused(msg string) bool {
	return strings.Contains(msg, "remote error: tls: certificate required") ||
		strings.Contains(msg, "remote error: tls: bad certificate") ||
		strings.Contains(msg, "remote error: tls: unknown certificate authority") ||
		strings.Contains(msg, "remote error: tls: certificate unknown")
}

// who names the stage an error is about: `kafka source "in"`, or just
// "kafka" when stage is "" (a command run without a pipeline).
func who(role, stage string) string {
	if stage == "" {
		return "kafka"
	}
	return fmt.Sprintf("kafka %s %q", role, stage)
}

// connectHint says what a connection error most likely means for these
// security settings. It names config keys, never their values.
func connectHint(s *Security, err error) string {
	msg := err.Error()
	var (
		hostErr    x509.HostnameError
		unknownCA  x509.UnknownAuthorityError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		remoteCert = remoteCertRefused(msg)
	)
	switch {
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return fmt.Sprintf(" (SASL authentication failed: check sasl_username, sasl_password and sasl_mechanism = %s)", s.Mechanism)
	case errors.Is(err, sarama.ErrUnsupportedSASLMechanism):
		return fmt.Sprintf(" (the broker does not enable sasl_mechanism = %s on this listener)", s.Mechanism)
	case errors.As(err, &hostErr):
		return " (TLS: the broker's certificate is not valid for the name checked: the host dialled, or tls_server_name when set)"
	case errors.As(err, &unknownCA):
		if s.CAFile != "" {
			return " (TLS: the broker's certificate is not signed by a CA in tls_ca_file)"
		}
		return " (TLS: the broker's certificate is not signed by a CA the system trusts: set tls_ca_file to its CA)"
	case errors.As(err, &invalid), errors.As(err, &verifyErr):
		return " (TLS: the broker's certificate could not be verified)"
	case remoteCert && s.CertFile == "":
		return " (TLS: the broker requires a client certificate: set tls_cert_file and tls_key_file)"
	case remoteCert:
		return " (TLS: the broker rejected the client certificate of tls_cert_file: is it signed by a CA the broker trusts?)"
	case errors.As(err, &recordErr):
		return " (the broker does not speak TLS on this port: check security_protocol)"
	case strings.Contains(msg, "connection refused"):
		return " (is Kafka running there? For a local broker without Java or Docker: `conveyor dev-kafka`)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		switch {
		case strings.HasPrefix(s.Protocol, "SASL"):
			return " (the broker closed the connection while it was being set up: brokers do this when SASL authentication fails " +
				"(check sasl_username, sasl_password and sasl_mechanism) or when security_protocol does not match the listener)"
		case s.Protocol == "SSL":
			return " (the broker closed the connection while it was being set up: check security_protocol, and whether the listener requires a client certificate (tls_cert_file))"
		}
		return " (the broker closed the connection while it was being set up: does the listener require TLS or SASL? Check security_protocol)"
	case strings.Contains(msg, "run out of available brokers"):
		return " (is Kafka running there? For a local broker without Java or Docker: `conveyor dev-kafka`)"
	}
	return ""
}
