package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/errmap"
	"github.com/parleychat/parley/wire"
)

func queryEscape(s string) string { return url.QueryEscape(s) }

// Handler serves the signed URLs: PUT uploads, GET and HEAD downloads.
// Mount it on Prefix. A missing, tampered or expired signature is 403
// forbidden, whatever the object: the answer never tells whether a key
// exists to someone who cannot prove they were given it.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, Prefix)
		q := r.URL.Query()
		switch r.Method {
		case http.MethodPut:
			size, ok := parseInt(q.Get("size"))
			if !ok || size < 0 {
				writeError(w, http.StatusForbidden, wire.CodeForbidden, "missing or malformed signature")
				return
			}
			if !s.verify(w, "PUT", key, q, size, "") {
				return
			}
			if s.PutGuard != nil {
				if err := s.PutGuard(r.Context(), key); err != nil {
					errmap.WriteHTTP(w, err)
					return
				}
			}
			liftDeadlines(w)
			s.servePut(w, r, key, size)
		case http.MethodGet, http.MethodHead:
			ct := q.Get("ct")
			if !s.verify(w, "GET", key, q, 0, ct) {
				return
			}
			liftDeadlines(w)
			s.serveGet(w, r, key, ct)
		default:
			w.Header().Set("Allow", "GET, HEAD, PUT")
			writeError(w, http.StatusMethodNotAllowed, wire.CodeInvalid, "method not allowed")
		}
	})
}

// liftDeadlines frees a verified transfer from the server's HTTP read and
// write timeouts: 100 MiB over a slow uplink takes minutes, and only the
// holder of a signed URL gets this far. The caps on connections per client
// address and in all still bound how many such transfers there can be.
func liftDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// verify checks the signature and the expiry; on failure it answers 403.
func (s *Store) verify(w http.ResponseWriter, method, key string, q url.Values, size int64, ct string) bool {
	exp, ok := parseInt(q.Get("exp"))
	sig, err := hexDecode(q.Get("sig"))
	if !ok || err != nil || blob.ValidKey(key) != nil {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "missing or malformed signature")
		return false
	}
	want, _ := hexDecode(s.sign(method, key, exp, size, ct))
	if !hmac.Equal(sig, want) {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "signature does not match")
		return false
	}
	if s.now() > exp {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "signature has expired")
		return false
	}
	return true
}

func (s *Store) servePut(w http.ResponseWriter, r *http.Request, key string, size int64) {
	if r.ContentLength > size {
		writeError(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "body is larger than the declared size")
		return
	}
	p, err := s.path(key)
	if err != nil {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "bad key")
		return
	}
	if _, err := writeAtomic(p, r.Body, size); err != nil {
		var se *sizeError
		switch {
		case errors.As(err, &se) && se.got > se.want:
			writeError(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, se.Error())
		case errors.As(err, &se):
			writeError(w, http.StatusBadRequest, wire.CodeInvalid, se.Error())
		default:
			// A client that hangs up mid-body lands here too; nothing is
			// kept either way.
			writeError(w, http.StatusInternalServerError, wire.CodeInternal, "upload failed")
		}
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Store) serveGet(w http.ResponseWriter, r *http.Request, key, ct string) {
	p, _ := s.path(key)
	f, err := os.Open(p)
	if err != nil {
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "no such object")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "no such object")
		return
	}
	h := w.Header()
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	// User bytes served from Parley's own origin: never let a browser
	// sniff them into HTML or run them as a page.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=60")
	// ServeContent answers Range requests, so video players can seek.
	http.ServeContent(w, r, "", fi.ModTime().Truncate(time.Second), f)
}

func hexDecode(s string) ([]byte, error) {
	if len(s) != 2*sha256.Size {
		return nil, errors.New("bad signature length")
	}
	return hex.DecodeString(s)
}

func writeError(w http.ResponseWriter, status int, code wire.Code, msg string) {
	wire.WriteHTTP(w, &wire.Error{Code: code, Message: msg, Status: status})
}
