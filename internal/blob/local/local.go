// Package local keeps media bytes as files under the data dir and serves
// them itself: upload and download URLs point at Parley's own /blob/
// endpoint and carry an expiry and an HMAC-SHA256 signature made with a
// key generated once and kept in the data dir.
package local

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/clock"
)

var _ blob.Store = (*Store)(nil)

// Layout inside the data dir.
const (
	// Dir holds the objects, one file per key.
	Dir = "media"
	// KeyFile holds the URL signing key (hex, mode 0600). Losing it only
	// invalidates URLs already handed out.
	KeyFile = "media.key"
	// Prefix is the path the handler is mounted on.
	Prefix = "/blob/"
)

// Store is a blob.Store on the local file system.
type Store struct {
	root    string
	secret  []byte
	clock   clock.Clock
	baseURL string

	// PutGuard, if set, may refuse a signed upload before it is written
	// (an error carrying a wire code is answered as such).
	PutGuard func(ctx context.Context, key string) error
}

// Open opens (creating if needed) the store in dataDir. baseURL is put in
// front of every URL ("" for server-relative URLs such as
// "/blob/KEY?..."); clk tells the time for expiry (nil: the wall clock).
func Open(dataDir, baseURL string, clk clock.Clock) (*Store, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	root := filepath.Join(dataDir, Dir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create media dir: %w", err)
	}
	secret, err := loadSecret(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	return &Store{root: root, secret: secret, clock: clk, baseURL: strings.TrimRight(baseURL, "/")}, nil
}

// loadSecret reads the signing key, creating it on first start. O_EXCL
// makes two processes racing on a fresh data dir agree on one key.
func loadSecret(path string) ([]byte, error) {
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
			if err != nil || len(secret) < 32 {
				return nil, fmt.Errorf("%s: not a hex key of at least 32 bytes", path)
			}
			// The key signs every URL: keep it private even if it was
			// copied in with a looser mode.
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("chmod %s: %w", path, err)
			}
			return secret, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(secret) + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		return secret, nil
	}
	return nil, fmt.Errorf("%s: cannot be read or created", path)
}

// sign is the MAC of one permission: the method, the object, the expiry,
// the exact size a PUT must carry and the type a GET answers with.
func (s *Store) sign(method, key string, exp, size int64, contentType string) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%d\n%d\n%s", method, key, exp, size, contentType)
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) expiry(ttl time.Duration) int64 {
	// Round up so a URL never expires before ttl has passed.
	return s.clock.Now().Add(ttl + time.Second - 1).Unix()
}

// PresignPut implements blob.Store.
func (s *Store) PresignPut(_ context.Context, key string, size int64, ttl time.Duration) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", err
	}
	exp := s.expiry(ttl)
	return fmt.Sprintf("%s%s%s?exp=%d&size=%d&sig=%s", s.baseURL, Prefix, key, exp, size,
		s.sign("PUT", key, exp, size, "")), nil
}

// PresignGet implements blob.Store.
func (s *Store) PresignGet(_ context.Context, key, contentType string, ttl time.Duration) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", err
	}
	exp := s.expiry(ttl)
	return fmt.Sprintf("%s%s%s?ct=%s&exp=%d&sig=%s", s.baseURL, Prefix, key, queryEscape(contentType), exp,
		s.sign("GET", key, exp, 0, contentType)), nil
}

func (s *Store) path(key string) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Stat implements blob.Store.
func (s *Store) Stat(_ context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, notFound(err)
	}
	return blob.Info{Size: fi.Size()}, nil
}

// Open implements blob.Store.
func (s *Store) Open(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(err)
	}
	return f, nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := writeAtomic(p, r, size)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob: put %s: wrote %d bytes, want %d", key, n, size)
	}
	return nil
}

// writeAtomic writes at most limit+1 bytes of r (all of r if limit < 0)
// to a temporary file beside path, fsyncs it and renames it over path: a
// reader sees the old object or the whole new one. With limit >= 0 a body
// of any other length is refused and nothing is left behind.
func writeAtomic(path string, r io.Reader, limit int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, fmt.Errorf("blob: mkdir: %w", err)
	}
	// The dot prefix keeps temporary files out of the key space.
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("blob: create temp: %w", err)
	}
	tmp := f.Name()
	src := r
	if limit >= 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(f, src)
	if err == nil && limit >= 0 && n != limit {
		err = &sizeError{got: n, want: limit}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// sizeError is a body whose length is not the signed size.
type sizeError struct{ got, want int64 }

func (e *sizeError) Error() string {
	if e.got > e.want {
		return fmt.Sprintf("body is larger than the declared %d bytes", e.want)
	}
	return fmt.Sprintf("body is %d bytes, the declared size is %d", e.got, e.want)
}

// Move implements blob.Store.
func (s *Store) Move(_ context.Context, from, to string) error {
	src, err := s.path(from)
	if err != nil {
		return err
	}
	dst, err := s.path(to)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("blob: mkdir: %w", err)
	}
	if err := os.Rename(src, dst); err != nil {
		return notFound(err)
	}
	return nil
}

// Delete implements blob.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	// Drop the key's directories once empty (Remove refuses non-empty
	// ones), so deleted media leave no litter behind.
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.ErrNotFound
	}
	return err
}

// now is the store's clock in Unix seconds.
func (s *Store) now() int64 { return s.clock.Now().Unix() }

func parseInt(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}
