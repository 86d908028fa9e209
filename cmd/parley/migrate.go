package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/blob/s3"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/internal/storemigrate"
)

// migrate moves an embedded deployment to a cluster: its data dir's
// database into PostgreSQL, its media into an S3 bucket (see
// docs/OPERATIONS.md, "From embedded to cluster").
func migrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the embedded deployment's data dir (its server stopped)")
	to := fs.String("to", "", "the PostgreSQL database, postgres://USER@HOST:PORT/DB (empty, or one this command was interrupted copying into)")
	var mc config.MediaConfig
	fs.StringVar(&mc.Blob, "blob", "", "the cluster's media bucket, s3://BUCKET?endpoint=HOST:PORT&region=R&secure=false (omitted: media files are not copied)")
	fs.StringVar(&mc.S3AccessKey, "s3-access-key", os.Getenv("PARLEY_S3_ACCESS_KEY"), "S3 access key (prefer PARLEY_S3_ACCESS_KEY)")
	fs.StringVar(&mc.S3SecretKey, "s3-secret-key", os.Getenv("PARLEY_S3_SECRET_KEY"), "S3 secret key (prefer PARLEY_S3_SECRET_KEY: flags show in ps)")
	batch := fs.Int("batch-rows", 1000, "rows per INSERT")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: parley migrate --from DATA_DIR --to postgres://... [--blob s3://BUCKET?endpoint=HOST:PORT]\n\n"+
			"Copies an embedded deployment (stopped) into a cluster's PostgreSQL database and S3 bucket,\n"+
			"verifies the copy, and resumes where an interrupted run stopped.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var bad []string
	if *from == "" {
		bad = append(bad, "--from DATA_DIR is required")
	}
	if !strings.HasPrefix(*to, "postgres://") && !strings.HasPrefix(*to, "postgresql://") {
		bad = append(bad, "--to must be a postgres:// URL")
	}
	if *batch < 1 {
		bad = append(bad, "--batch-rows must be positive")
	}
	loc, isS3, err := mc.S3()
	if err != nil {
		bad = append(bad, err.Error())
	} else if mc.Blob == "local" {
		bad = append(bad, "--blob must be an s3:// URL: a cluster's nodes share media through a bucket")
	} else if isS3 && (mc.S3AccessKey == "" || mc.S3SecretKey == "") {
		bad = append(bad, "an s3 blob store needs --s3-access-key and --s3-secret-key (or PARLEY_S3_ACCESS_KEY and PARLEY_S3_SECRET_KEY)")
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "parley migrate:", strings.Join(bad, "; "))
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var blobs blob.Store
	if isS3 {
		s, err := s3.New(s3.Config{Endpoint: loc.Endpoint, Bucket: loc.Bucket, Region: loc.Region, Secure: loc.Secure,
			AccessKey: mc.S3AccessKey, SecretKey: mc.S3SecretKey})
		if err == nil {
			err = s.EnsureBucket(ctx)
		}
		if err != nil {
			log.Error("media bucket", "err", err)
			return 1
		}
		blobs = s
	}
	rep, err := storemigrate.Run(ctx, storemigrate.Options{From: *from, To: *to, Blobs: blobs, BatchRows: *batch, Log: log})
	if err != nil {
		log.Error("migrate", "err", err)
		if !errors.Is(err, storemigrate.ErrVerify) && !errors.Is(err, storemigrate.ErrTargetNotEmpty) && !errors.Is(err, storemigrate.ErrSchemaMismatch) {
			fmt.Fprintln(stderr, "parley migrate: run the same command again to resume")
		}
		return 1
	}
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(stdout, "migrated %d tables, %d rows", len(rep.Tables), rows)
	if rep.MediaSkipped {
		fmt.Fprintln(stdout, "; media NOT copied (no --blob)")
	} else {
		fmt.Fprintf(stdout, ", %d media files (%d bytes)\n", rep.MediaFiles, rep.MediaBytes)
	}
	// The one thing of the data dir's a node needs that is not in the
	// database: without it, browsers' push subscriptions stop working.
	if key := filepath.Join(*from, push.KeyFileName); fileExists(key) {
		fmt.Fprintf(stdout, "give every node the VAPID key in %s: PARLEY_VAPID_PRIVATE_KEY=\"$(cat %s)\"\n", key, key)
	}
	return 0
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
