// Package s3 keeps media bytes in an S3-compatible object store (AWS S3,
// MinIO, versitygw, ...) through minio-go. Clients upload and download
// with presigned URLs that the object store itself verifies: Parley never
// proxies the bytes.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parleychat/parley/internal/blob"
)

var _ blob.Store = (*Store)(nil)

// Config locates the bucket.
type Config struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	Secure    bool // https
	AccessKey string
	SecretKey string
}

// Store is a blob.Store on one bucket.
type Store struct {
	c      *minio.Client
	bucket string
}

// New returns a store for cfg. It does not contact the server.
func New(cfg Config) (*Store, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
		// Path-style URLs work with every S3-compatible server and need no
		// wildcard DNS for bucket subdomains.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &Store{c: c, bucket: cfg.Bucket}, nil
}

// EnsureBucket creates the bucket if it does not exist yet.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3: check bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("s3: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// PresignPut implements blob.Store. Content-Length is one of the signed
// headers, so the object store itself refuses a body of any other size.
func (s *Store) PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", err
	}
	h := http.Header{"Content-Length": {strconv.FormatInt(size, 10)}}
	u, err := s.c.PresignHeader(ctx, http.MethodPut, s.bucket, key, ttl, nil, h)
	if err != nil {
		return "", fmt.Errorf("s3: presign put: %w", err)
	}
	return u.String(), nil
}

// PresignGet implements blob.Store; the object store answers with the
// given content type whatever was stored.
func (s *Store) PresignGet(ctx context.Context, key, contentType string, ttl time.Duration) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", err
	}
	q := url.Values{}
	if contentType != "" {
		q.Set("response-content-type", contentType)
	}
	u, err := s.c.PresignedGetObject(ctx, s.bucket, key, ttl, q)
	if err != nil {
		return "", fmt.Errorf("s3: presign get: %w", err)
	}
	return u.String(), nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	info, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, mapErr("stat", key, err)
	}
	return blob.Info{Size: info.Size}, nil
}

// Open implements blob.Store. The object is fetched lazily: a missing key
// shows up as ErrNotFound on the first Read.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, mapErr("get", key, err)
	}
	return &reader{obj: obj, key: key}, nil
}

type reader struct {
	obj *minio.Object
	key string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = mapErr("read", r.key, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.obj.Close() }

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := blob.ValidKey(key); err != nil {
		return err
	}
	_, err := s.c.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return mapErr("put", key, err)
	}
	return nil
}

// Move implements blob.Store: a server-side copy, then a delete.
func (s *Store) Move(ctx context.Context, from, to string) error {
	if err := blob.ValidKey(to); err != nil {
		return err
	}
	_, err := s.c.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: to},
		minio.CopySrcOptions{Bucket: s.bucket, Object: from})
	if err != nil {
		return mapErr("copy", from, err)
	}
	return s.Delete(ctx, from)
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(mapErr("delete", key, err), blob.ErrNotFound) {
		return mapErr("delete", key, err)
	}
	return nil
}

func mapErr(op, key string, err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound":
		return blob.ErrNotFound
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}
