package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func TestSaramaConfigSecurity(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sec                    Security
		tls, sasl              bool
		mechanism              sarama.SASLMechanism
		scram, roots, insecure bool
		serverName             string
	}{
		{sec: Security{Protocol: "PLAINTEXT"}},
		{sec: Security{Protocol: "SSL"}, tls: true},
		{sec: Security{Protocol: "SSL", CAFile: ca, TLSServerName: "kafka.example"}, tls: true, roots: true, serverName: "kafka.example"},
		{sec: Security{Protocol: "SSL", SkipVerify: true}, tls: true, insecure: true},
		{sec: Security{Protocol: "SASL_PLAINTEXT", Mechanism: "PLAIN", Username: "u", Password: "p"}, sasl: true, mechanism: sarama.SASLTypePlaintext},
		{sec: Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-256", Username: "u", Password: "p", CAFile: ca}, tls: true, roots: true, sasl: true, mechanism: sarama.SASLTypeSCRAMSHA256, scram: true},
		{sec: Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-512", Username: "u", Password: "p"}, tls: true, sasl: true, mechanism: sarama.SASLTypeSCRAMSHA512, scram: true},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.sec.Protocol, tc.sec.Mechanism), func(t *testing.T) {
			c := defaultClient()
			c.Brokers = []string{"127.0.0.1:9092"}
			c.Security = tc.sec
			if err := c.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			sc, err := c.saramaConfig()
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Validate(); err != nil {
				t.Fatalf("sarama rejects the config: %v", err)
			}
			if sc.Net.TLS.Enable != tc.tls || sc.Net.SASL.Enable != tc.sasl {
				t.Fatalf("TLS %v SASL %v; want %v %v", sc.Net.TLS.Enable, sc.Net.SASL.Enable, tc.tls, tc.sasl)
			}
			if tc.tls {
				tlc := sc.Net.TLS.Config
				if (tlc.RootCAs != nil) != tc.roots || tlc.InsecureSkipVerify != tc.insecure || tlc.ServerName != tc.serverName || tlc.MinVersion < tls.VersionTLS12 {
					t.Errorf("TLS config: roots %v insecure %v server name %q min version %x", tlc.RootCAs != nil, tlc.InsecureSkipVerify, tlc.ServerName, tlc.MinVersion)
				}
			}
			if tc.sasl {
				s := sc.Net.SASL
				if s.Mechanism != tc.mechanism || !s.Handshake || s.Version != sarama.SASLHandshakeV1 || s.User != "u" || s.Password != "p" {
					t.Errorf("SASL config: mechanism %s handshake %v version %d", s.Mechanism, s.Handshake, s.Version)
				}
				if (s.SCRAMClientGeneratorFunc != nil) != tc.scram {
					t.Errorf("SCRAM client generator set: %v, want %v", s.SCRAMClientGeneratorFunc != nil, tc.scram)
				}
				if tc.scram {
					cl := s.SCRAMClientGeneratorFunc()
					if err := cl.Begin("u", "p", ""); err != nil {
						t.Fatal(err)
					}
					first, err := cl.Step("")
					if err != nil || !strings.HasPrefix(first, "n,,n=u,r=") {
						t.Errorf("SCRAM client-first %q, %v", first, err)
					}
				}
			}
		})
	}
}

func TestTLSFileErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sec  Security
		want string
	}{
		{Security{Protocol: "SSL", CAFile: filepath.Join(dir, "missing.pem")}, "tls_ca_file: open"},
		{Security{Protocol: "SSL", CAFile: notPEM}, "no PEM certificates in it"},
		{Security{Protocol: "SASL_SSL", Mechanism: "PLAIN", Username: "u", Password: testSecret, CertFile: notPEM, KeyFile: notPEM}, "tls_cert_file/tls_key_file"},
	} {
		_, err := (&ClientConfig{Security: tc.sec}).saramaConfig()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one with %q", tc.sec, err, tc.want)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		sec  Security
		want string // "" = valid
	}{
		{Security{Protocol: "SASL_SSL", Mechanism: "PLAIN", Username: "u", Password: testSecret}, ""},
		{Security{Protocol: "SSL", CertFile: "c", KeyFile: "k", CAFile: "ca"}, ""},
		{Security{Protocol: "SASL_SSL", Username: "u", Password: testSecret}, "sasl_mechanism"},
		{Security{Protocol: "SASL_SSL", Mechanism: "PLAIN", Username: "u"}, "sasl_password are required"},
		{Security{Protocol: "SSL", Username: "u", Password: testSecret}, "SASL keys are set but security_protocol is SSL"},
		{Security{Protocol: "PLAINTEXT", CAFile: "ca"}, "TLS keys are set"},
		{Security{Protocol: "SSL", CertFile: "c"}, "needs tls_key_file"},
		{Security{Protocol: "SSL", KeyFile: "k"}, "needs tls_cert_file"},
	} {
		err := tc.sec.validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.sec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one with %q", tc.sec, err, tc.want)
		case err != nil && strings.Contains(err.Error(), testSecret):
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// Each connection failure gets a hint naming the keys to check.
func TestConnectHint(t *testing.T) {
	outOf := func(err error) error { return sarama.Wrap(sarama.ErrOutOfBrokers, err) }
	sasl := Security{Protocol: "SASL_SSL", Mechanism: "SCRAM-SHA-256", Username: "u", Password: testSecret, CAFile: "ca.pem"}
	ssl := Security{Protocol: "SSL", CAFile: "ca.pem"}
	mtls := Security{Protocol: "SSL", CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
	plain := Security{Protocol: "PLAINTEXT"}
	for _, tc := range []struct {
		name string
		sec  Security
		err  error
		want string
	}{
		{"sasl failed", sasl, outOf(sarama.Wrap(sarama.ErrSASLAuthenticationFailed, errors.New("Authentication failed"))), "SASL authentication failed: check sasl_username, sasl_password and sasl_mechanism = SCRAM-SHA-256"},
		{"mechanism", sasl, outOf(sarama.ErrUnsupportedSASLMechanism), "does not enable sasl_mechanism = SCRAM-SHA-256"},
		{"unknown CA", ssl, outOf(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), "not signed by a CA in tls_ca_file"},
		{"unknown CA, system roots", Security{Protocol: "SSL"}, outOf(x509.UnknownAuthorityError{}), "set tls_ca_file"},
		{"host name", ssl, outOf(&tls.CertificateVerificationError{Err: x509.HostnameError{Host: "x"}}), "tls_server_name"},
		{"expired", ssl, outOf(x509.CertificateInvalidError{Reason: x509.Expired}), "could not be verified"},
		{"no client cert", ssl, outOf(errors.New("remote error: tls: certificate required")), "requires a client certificate: set tls_cert_file and tls_key_file"},
		{"no client cert (Java)", ssl, outOf(errors.New("remote error: tls: bad certificate")), "requires a client certificate"},
		{"client cert rejected", mtls, outOf(errors.New("remote error: tls: bad certificate")), "rejected the client certificate"},
		{"not TLS", ssl, outOf(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "does not speak TLS"},
		{"closed, SASL", sasl, outOf(io.EOF), "SASL authentication fails (check sasl_username, sasl_password and sasl_mechanism)"},
		{"closed, SSL", ssl, outOf(io.ErrUnexpectedEOF), "requires a client certificate (tls_cert_file)"},
		{"reset, PLAINTEXT", plain, outOf(syscall.ECONNRESET), "Check security_protocol"},
		{"refused", plain, outOf(syscall.ECONNREFUSED), "is Kafka running there?"},
		{"other", plain, errors.New("something else"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &ClientConfig{Brokers: []string{"h:1"}, Security: tc.sec}
			err := reachError("source", "in", c, tc.err)
			if !errors.Is(err, tc.err) {
				t.Errorf("the cause is not wrapped")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, `kafka source "in": cannot reach brokers h:1: `) {
				t.Errorf("message %q", msg)
			}
			if tc.want == "" && strings.HasSuffix(msg, ")") || !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want a hint with %q", msg, tc.want)
			}
			if strings.Contains(msg, testSecret) {
				t.Errorf("message shows the password: %q", msg)
			}
		})
	}
}

// selfSigned returns a fresh self-signed CA certificate in PEM.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
