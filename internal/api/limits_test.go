package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/limits"
)

// wrongPassword is an identity service that refuses every password.
type wrongPassword struct{ Identity }

func (wrongPassword) LoginDevice(context.Context, string, string, string) (identity.Session, error) {
	return identity.Session{}, identity.ErrBadCredentials
}

type countingObserver struct{ failed, limited int }

func (o *countingObserver) LoginFailed()   { o.failed++ }
func (o *countingObserver) Limited(string) { o.limited++ }

// TestFailedLoginIsLoggedWithoutThePassword: a failed login is counted
// and logged at warn with the client address, never the password nor the
// username tried (it may be a password typed in the wrong box); the
// failure that starts a backoff is logged with the username, the target
// of the attack.
func TestFailedLoginIsLoggedWithoutThePassword(t *testing.T) {
	logs := make(recorder, 16)
	obs := &countingObserver{}
	a := New(wrongPassword{}, nil, nil, nil, slog.New(logs))
	a.LimitAuth(AuthLimits{
		Accounts: limits.NewFailures(2, time.Minute, 15*time.Minute, 10),
		Now:      time.Now, Observer: obs,
	})
	mux := http.NewServeMux()
	a.Register(mux)
	const secret = "hunter2-but-longer"
	var recs []slog.Record
	for range 2 {
		r := httptest.NewRequest("POST", "/api/v1/sessions", strings.NewReader(`{"username":"Alice","password":"`+secret+`"}`))
		r.RemoteAddr = "192.0.2.7:4000"
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", w.Code)
		}
	}
	close(logs)
	for rec := range logs {
		recs = append(recs, rec)
	}
	if obs.failed != 2 {
		t.Fatalf("%d failed logins counted, want 2", obs.failed)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 2 failures and a warning that logins back off", len(recs))
	}
	for i, rec := range recs {
		attrs := map[string]string{}
		rec.Attrs(func(at slog.Attr) bool {
			attrs[at.Key] = at.Value.String()
			return true
		})
		wantName := ""
		if i == 2 {
			wantName = "Alice"
		}
		if rec.Level != slog.LevelWarn || attrs["username"] != wantName || attrs["client"] != "192.0.2.7" {
			t.Errorf("%q logged %v at %v, want at warn the client address and username %q", rec.Message, attrs, rec.Level, wantName)
		}
		for k, v := range attrs {
			if strings.Contains(v, secret) || strings.Contains(rec.Message, secret) {
				t.Errorf("%q logged the password in %s", rec.Message, k)
			}
		}
	}
}
