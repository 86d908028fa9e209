package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/identity"
)

// blockingIdentity is an identity service whose logins wait until their
// caller gives up, as a login queued for a password hash does.
type blockingIdentity struct {
	Identity
	entered chan struct{}
}

func (b blockingIdentity) LoginDevice(ctx context.Context, _, _, _ string) (identity.Session, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	return identity.Session{}, fmt.Errorf("wait for a password hash: %w", ctx.Err())
}

// recorder is a slog.Handler that hands each record to the test.
type recorder chan slog.Record

func (r recorder) Enabled(context.Context, slog.Level) bool        { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error { r <- rec; return nil }
func (r recorder) WithAttrs([]slog.Attr) slog.Handler              { return r }
func (r recorder) WithGroup(string) slog.Handler                   { return r }

// TestClientHangingUpIsNoServerFault: a client that hangs up while its
// login waits is logged below ERROR (it was logged as a server fault).
func TestClientHangingUpIsNoServerFault(t *testing.T) {
	ids := blockingIdentity{entered: make(chan struct{}, 1)}
	logs := make(recorder, 16)
	mux := http.NewServeMux()
	New(ids, nil, nil, nil, slog.New(logs)).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"username":"alice","password":"correct horse battery"}`
	if _, err := fmt.Fprintf(c, "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-ids.entered:
	case <-ctx.Done():
		t.Fatal("the login never started")
	}
	c.Close() // the client hangs up mid-login
	select {
	case rec := <-logs:
		if rec.Level >= slog.LevelError {
			t.Fatalf("a client hanging up was logged at %s: %q", rec.Level, rec.Message)
		}
	case <-ctx.Done():
		t.Fatal("the abandoned login was never logged")
	}
}
