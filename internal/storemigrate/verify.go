package storemigrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/blob/local"
)

// verify compares each table's row count, and the messages' newest
// sequence number per conversation (the counters new messages continue
// from), between the databases. Every mismatch is reported, not only the
// first.
func verify(ctx context.Context, src, dst *sql.DB, tables []string) ([]TableCount, error) {
	var (
		counts []TableCount
		bad    []string
	)
	for _, t := range tables {
		var s, d int64
		q := "SELECT count(*) FROM " + quote(t)
		if err := src.QueryRowContext(ctx, q).Scan(&s); err != nil {
			return counts, fmt.Errorf("count source %s: %w", t, err)
		}
		if err := dst.QueryRowContext(ctx, q).Scan(&d); err != nil {
			return counts, fmt.Errorf("count target %s: %w", t, err)
		}
		counts = append(counts, TableCount{Table: t, Rows: s})
		if s != d {
			bad = append(bad, fmt.Sprintf("%s has %d rows in the source, %d in the target", t, s, d))
		}
	}
	// One aggregate, not a row per conversation: equal conversation
	// counts and sums of their newest seq, with equal row counts, leave
	// no room for a lost tail.
	const seqs = "SELECT count(*), coalesce(sum(m), 0) FROM (SELECT max(seq) AS m FROM messages GROUP BY conversation_id) AS per_conversation"
	var sc, ss, dc, ds int64
	if err := src.QueryRowContext(ctx, seqs).Scan(&sc, &ss); err != nil {
		return counts, fmt.Errorf("source message seqs: %w", err)
	}
	if err := dst.QueryRowContext(ctx, seqs).Scan(&dc, &ds); err != nil {
		return counts, fmt.Errorf("target message seqs: %w", err)
	}
	if sc != dc || ss != ds {
		bad = append(bad, fmt.Sprintf("messages: the source has %d conversations with newest seqs summing to %d, the target %d summing to %d", sc, ss, dc, ds))
	}
	if len(bad) > 0 {
		return counts, fmt.Errorf("%w: %s", ErrVerify, strings.Join(bad, "; "))
	}
	return counts, nil
}

// copyMedia puts every file of the data dir's local blob store into
// blobs under the same key (the key is the file's path under media/, as
// the local store names it, and the S3 store uses keys as object names).
// A file already there with the same size is not sent again, so a rerun
// sends only what is missing. Each object is checked after its upload.
func copyMedia(ctx context.Context, dataDir string, blobs blob.Store, log *slog.Logger) (files int, size int64, err error) {
	root := filepath.Join(dataDir, local.Dir)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == root {
				return fs.SkipAll
			}
			return err
		}
		// The local store writes each object to a dot-file first and
		// renames it: a dot-file is an upload cut short, not an object.
		if strings.HasPrefix(d.Name(), ".") && path != root {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if blob.ValidKey(key) != nil {
			log.Warn("media file with a name no key has, skipped", "path", path)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		size += fi.Size()
		if info, err := blobs.Stat(ctx, key); err == nil && info.Size == fi.Size() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := blobs.Put(ctx, key, f, fi.Size(), ""); err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
		info, err := blobs.Stat(ctx, key)
		if err != nil {
			return fmt.Errorf("check %s: %w", key, err)
		}
		if info.Size != fi.Size() {
			return fmt.Errorf("%w: %s is %d bytes in the bucket, %d on disk", ErrVerify, key, info.Size, fi.Size())
		}
		return nil
	})
	if err == nil {
		log.Info("media copied", "files", files, "bytes", size)
	}
	return files, size, err
}
