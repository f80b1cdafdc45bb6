package schema

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSchemaByIDRetriesThenCaches: a fetch the registry fails (5xx) is
// tried again with backoff and then cached; an id the registry does not
// know (404) is an error at once, not asked again.
func TestSchemaByIDRetriesThenCaches(t *testing.T) {
	var calls, unknown atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/schemas/ids/7"):
			if calls.Add(1) <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"error_code":50301,"message":"busy"}`)
				return
			}
			fmt.Fprint(w, `{"schema":"\"string\""}`)
		default:
			unknown.Add(1)
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
		}
	}))
	defer srv.Close()
	reg, err := NewRegistry(RegistryConfig{URL: srv.URL, Retries: 5, Backoff: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err := reg.SchemaByID(context.Background(), 7)
		if err != nil || s.Schema != `"string"` {
			t.Fatalf("schema %q, err %v", s.Schema, err)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("the registry was asked %d times for id 7, want 3 (two failures, one answer, then the cache)", n)
	}
	for range 2 {
		_, err := reg.SchemaByID(context.Background(), 8)
		if err == nil || !strings.Contains(err.Error(), "schema registry "+srv.URL+": schema id 8: Schema not found") {
			t.Fatalf("err = %v", err)
		}
	}
	if n := unknown.Load(); n != 1 {
		t.Fatalf("the registry was asked %d times for id 8, want 1", n)
	}
}

// TestRegistryTLSCAFile: an https registry is reached with the CA file
// given, and refused without it (its certificate is self-signed).
func TestRegistryTLSCAFile(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"compatibilityLevel":"BACKWARD"}`)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake, expected
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	withCA, err := NewRegistry(RegistryConfig{URL: srv.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if err := withCA.Ping(ctx); err != nil {
		t.Fatalf("with tls_ca_file: %v", err)
	}
	without, err := NewRegistry(RegistryConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := without.Ping(ctx); err == nil || !strings.Contains(err.Error(), "schema registry "+srv.URL+" does not answer") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without tls_ca_file: %v", err)
	}
	if _, err := NewRegistry(RegistryConfig{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "none.pem")}); err == nil {
		t.Fatal("a missing CA file is not an error")
	}
}
