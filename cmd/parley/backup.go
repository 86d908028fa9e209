package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/parleychat/parley/internal/backup"
	"github.com/parleychat/parley/internal/buildinfo"
)

// envOr is the PARLEY_ variable's value, or def: backup and restore read
// the same PARLEY_DATA_DIR and PARLEY_STORE as serve, so a service's
// environment file works for all three.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// backupCmd takes an online backup of an embedded data dir.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("PARLEY_DATA_DIR", "./data"), "data dir to back up; a server may be running on it")
	to := fs.String("to", "", "backup dir to create: must not exist or be empty")
	storeURL := fs.String("store", envOr("PARLEY_STORE", ""), `the server's --store: "" for SQLite in --data-dir (a postgres:// store is backed up with pg_dump)`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley backup --data-dir DIR --to OUT\n\nA consistent copy of a running (or stopped) embedded server: the database, media and keys, and a manifest.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "parley backup: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *storeURL != "":
		fmt.Fprintln(stderr, "parley backup: --store is PostgreSQL: back the database up with pg_dump and the media with the bucket's own versioning or replication (docs/OPERATIONS.md, \"Backup and restore\"); parley backup copies an embedded (SQLite) data dir")
		return 2
	case *to == "":
		fmt.Fprintln(stderr, "parley backup: --to is required")
		return 2
	case strings.TrimSpace(*dataDir) == "":
		fmt.Fprintln(stderr, "parley backup: --data-dir must not be empty")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := backup.Create(ctx, backup.Options{DataDir: *dataDir, To: *to, Version: buildinfo.Get().Version})
	if err != nil {
		fmt.Fprintln(stderr, "parley backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup of %s in %s: %d files, %d bytes, schema %d, %d users, %d messages, %d media\n",
		m.Source, *to, len(m.Files), m.Bytes(), m.SchemaVersion, m.Rows["users"], m.Rows["messages"], m.Rows["media"])
	for _, w := range m.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	return 0
}

// restoreCmd restores a backup into an empty data dir.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "backup dir made by parley backup")
	dataDir := fs.String("data-dir", envOr("PARLEY_DATA_DIR", ""), "data dir to create: must not exist or be empty")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley restore --from BACKUP --data-dir DIR\n\nVerifies every file of the backup, then copies it into a new data dir; start parley serve on it afterwards.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "parley restore: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *from == "":
		fmt.Fprintln(stderr, "parley restore: --from is required")
		return 2
	case *dataDir == "":
		fmt.Fprintln(stderr, "parley restore: --data-dir is required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := backup.Restore(ctx, *from, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "parley restore:", err)
		if errors.Is(err, backup.ErrCorrupt) {
			fmt.Fprintln(stderr, "parley restore: nothing was written")
		}
		return 1
	}
	fmt.Fprintf(stdout, "restored %s (taken %s by parley %s, schema %d) into %s: %d files, %d bytes, %d users, %d messages\n",
		*from, m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.ParleyVersion, m.SchemaVersion, *dataDir,
		len(m.Files), m.Bytes(), m.Rows["users"], m.Rows["messages"])
	return 0
}
