package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// MediaConfig configures media storage and processing. A zero field means
// its default (DefaultMedia): Default() leaves Media zero, and consumers
// read it through WithDefaults.
type MediaConfig struct {
	// Blob is where media bytes live: "" or "local" for files under the
	// data dir, or "s3://BUCKET?endpoint=HOST:PORT&region=R&secure=BOOL".
	Blob        string
	S3AccessKey string
	S3SecretKey string
	// PublicURL is put in front of local blob URLs (e.g. the address a
	// reverse proxy serves Parley at); empty: taken from each request.
	PublicURL string

	// Largest declared size per kind, bytes.
	MaxImageBytes    int64
	MaxVideoBytes    int64
	MaxAudioBytes    int64
	MaxDocumentBytes int64
	// MaxImagePixels refuses images (by their header, before decoding) with
	// more pixels than this: a decompression bomb never allocates.
	MaxImagePixels int64

	UploadURLTTL   time.Duration
	DownloadURLTTL time.Duration
	// ProcessTimeout bounds the processing of one upload (decode, probe,
	// thumbnail, waveform).
	ProcessTimeout time.Duration
	// Workers is how many uploads are processed at once; 0: GOMAXPROCS.
	Workers int
}

// DefaultMedia returns the media defaults.
func DefaultMedia() MediaConfig {
	return MediaConfig{
		MaxImageBytes:    16 << 20,
		MaxVideoBytes:    64 << 20,
		MaxAudioBytes:    16 << 20,
		MaxDocumentBytes: 100 << 20,
		MaxImagePixels:   50_000_000,
		UploadURLTTL:     15 * time.Minute,
		DownloadURLTTL:   5 * time.Minute,
		ProcessTimeout:   2 * time.Minute,
	}
}

// WithDefaults returns m with every zero field set to its default.
func (m MediaConfig) WithDefaults() MediaConfig {
	d := DefaultMedia()
	set := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&m.MaxImageBytes, d.MaxImageBytes)
	set(&m.MaxVideoBytes, d.MaxVideoBytes)
	set(&m.MaxAudioBytes, d.MaxAudioBytes)
	set(&m.MaxDocumentBytes, d.MaxDocumentBytes)
	set(&m.MaxImagePixels, d.MaxImagePixels)
	setD(&m.UploadURLTTL, d.UploadURLTTL)
	setD(&m.DownloadURLTTL, d.DownloadURLTTL)
	setD(&m.ProcessTimeout, d.ProcessTimeout)
	return m
}

// S3Location is a parsed s3:// blob URL.
type S3Location struct {
	Bucket   string
	Endpoint string
	Region   string
	Secure   bool
}

// S3 parses Blob. ok is false for the local store.
func (m MediaConfig) S3() (loc S3Location, ok bool, err error) {
	if m.Blob == "" || m.Blob == "local" {
		return S3Location{}, false, nil
	}
	u, err := url.Parse(m.Blob)
	if err != nil || u.Scheme != "s3" {
		return S3Location{}, false, fmt.Errorf("blob must be \"local\" or s3://BUCKET?endpoint=HOST:PORT, got %q", m.Blob)
	}
	q := u.Query()
	loc = S3Location{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region"), Secure: true}
	if loc.Region == "" {
		loc.Region = "us-east-1"
	}
	if s := q.Get("secure"); s != "" {
		if loc.Secure, err = strconv.ParseBool(s); err != nil {
			return S3Location{}, false, fmt.Errorf("blob: secure=%q is not a boolean", s)
		}
	}
	if loc.Bucket == "" || loc.Endpoint == "" {
		return S3Location{}, false, errors.New("blob: an s3:// URL needs a bucket and ?endpoint=HOST:PORT")
	}
	return loc, true, nil
}

// registerMediaFlags adds the media flags to fs.
func registerMediaFlags(fs *flag.FlagSet, m *MediaConfig) {
	*m = DefaultMedia()
	fs.StringVar(&m.Blob, "blob", m.Blob, `media storage: "local" (files under --data-dir) or s3://BUCKET?endpoint=HOST:PORT&region=R&secure=false`)
	fs.StringVar(&m.S3AccessKey, "s3-access-key", m.S3AccessKey, "S3 access key (prefer PARLEY_S3_ACCESS_KEY)")
	fs.StringVar(&m.S3SecretKey, "s3-secret-key", m.S3SecretKey, "S3 secret key (prefer PARLEY_S3_SECRET_KEY: flags show in ps)")
	fs.StringVar(&m.PublicURL, "public-url", m.PublicURL, "base URL clients reach this server at, for local media URLs (default: from each request)")
	fs.Int64Var(&m.MaxImageBytes, "max-image-bytes", m.MaxImageBytes, "largest image upload, bytes")
	fs.Int64Var(&m.MaxVideoBytes, "max-video-bytes", m.MaxVideoBytes, "largest video upload, bytes")
	fs.Int64Var(&m.MaxAudioBytes, "max-audio-bytes", m.MaxAudioBytes, "largest audio upload, bytes")
	fs.Int64Var(&m.MaxDocumentBytes, "max-document-bytes", m.MaxDocumentBytes, "largest document upload, bytes")
	fs.Int64Var(&m.MaxImagePixels, "max-image-pixels", m.MaxImagePixels, "images with more pixels are refused before decoding")
	fs.DurationVar(&m.UploadURLTTL, "media-upload-ttl", m.UploadURLTTL, "how long an upload URL stays valid")
	fs.DurationVar(&m.DownloadURLTTL, "media-download-ttl", m.DownloadURLTTL, "how long a download URL stays valid")
	fs.DurationVar(&m.ProcessTimeout, "media-process-timeout", m.ProcessTimeout, "longest processing of one upload")
	fs.IntVar(&m.Workers, "media-workers", m.Workers, "uploads processed at once (0: one per CPU)")
}

// validate reports media settings that cannot work.
func (m MediaConfig) validate() []error {
	m = m.WithDefaults()
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	if _, isS3, err := m.S3(); err != nil {
		errs = append(errs, err)
	} else if isS3 {
		check(m.S3AccessKey != "" && m.S3SecretKey != "", "an s3 blob store needs --s3-access-key and --s3-secret-key")
	}
	check(m.MaxImageBytes > 0 && m.MaxVideoBytes > 0 && m.MaxAudioBytes > 0 && m.MaxDocumentBytes > 0,
		"max-image-bytes, max-video-bytes, max-audio-bytes and max-document-bytes must be positive")
	check(m.MaxImagePixels > 0, "max-image-pixels must be positive")
	// S3 presigned URLs live at least 1 s and at most 7 days.
	check(m.UploadURLTTL >= time.Second && m.UploadURLTTL <= 7*24*time.Hour, "media-upload-ttl must be in [1s, 168h]")
	check(m.DownloadURLTTL >= time.Second && m.DownloadURLTTL <= 7*24*time.Hour, "media-download-ttl must be in [1s, 168h]")
	check(m.ProcessTimeout >= time.Second, "media-process-timeout must be at least 1s")
	check(m.Workers >= 0, "media-workers must not be negative")
	if m.PublicURL != "" {
		u, err := url.Parse(m.PublicURL)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "public-url must be an http(s) URL")
	}
	return errs
}
