// Package blob is object storage for media bytes behind signed, expiring
// URLs. Clients move the bytes themselves (PUT to an upload URL, GET from a
// download URL); the server only reads and writes objects while it checks
// and processes an upload. Two implementations: local/ (files under the
// data dir, URLs served and verified by Parley) and s3/ (any S3-compatible
// service, presigned URLs verified by that service).
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned for an object that does not exist.
var ErrNotFound = errors.New("blob: not found")

// Info describes a stored object.
type Info struct {
	Size int64
}

// Store is object storage with presigned URLs. Keys are relative paths of
// ASCII letters, digits, '.', '-', '_' and '/' (see ValidKey).
type Store interface {
	// PresignPut returns a URL that accepts one PUT of exactly size bytes
	// to key until ttl has passed. The URL may be relative to the server
	// ("/blob/..."); the HTTP edge makes it absolute.
	PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error)
	// PresignGet returns a URL that serves key with the given content type
	// until ttl has passed.
	PresignGet(ctx context.Context, key, contentType string, ttl time.Duration) (string, error)
	// Stat returns the object's size, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Open reads the object; ErrNotFound if it does not exist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores size bytes from r under key, replacing any object there.
	// A reader is never seen half-written.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Move renames from to to (replacing to); ErrNotFound if from is missing.
	Move(ctx context.Context, from, to string) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ValidKey reports whether key is acceptable: no empty segment and none
// that starts with a dot (so "..", and the local store's temporary files,
// can never be named), no leading or trailing slash, only safe characters.
func ValidKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("blob: bad key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("blob: bad key %q", key)
		}
	}
	for _, c := range key {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/'
		if !ok {
			return fmt.Errorf("blob: bad key %q", key)
		}
	}
	return nil
}
