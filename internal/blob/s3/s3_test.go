package s3_test

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob/blobtest"
	"github.com/parleychat/parley/internal/blob/s3"
	"github.com/parleychat/parley/internal/blob/s3/s3test"
)

// TestBlobS3Conformance runs the blob suite against a real versitygw:
// presigned PUT/GET work, and tampered, expired and wrong-secret URLs are
// refused by the object store itself.
func TestBlobS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config(t)
	st, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wrong := cfg
	wrong.SecretKey = "not-the-secret-key"
	other, err := s3.New(wrong)
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, blobtest.Harness{
		Store: st, Other: other,
		Resolve: func(u string) string { return u },
		Wait:    time.Sleep,
		Prefix:  "conformance/",
	})
}
