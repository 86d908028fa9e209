package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/blob/local"
	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// keyFiles are the secrets kept in a data dir, each optional: vapid.key
// is absent when the key is given by flag, media.key with S3 media.
var keyFiles = []string{push.KeyFileName, local.KeyFile}

// Options says what to back up and where.
type Options struct {
	// DataDir is the data dir of an embedded deployment; a server may be
	// running on it.
	DataDir string
	// To is the backup dir to make: it must not exist or be empty.
	To string
	// Version is the parley version recorded in the manifest.
	Version string
}

// Create takes a backup of opts.DataDir into opts.To. It is safe while a
// server serves the data dir: the snapshot is a read transaction that
// does not block its writes. Nothing appears at opts.To until the backup
// is complete, manifest included.
func Create(ctx context.Context, opts Options) (Manifest, error) {
	var m Manifest
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return m, err
	}
	to, err := filepath.Abs(opts.To)
	if err != nil {
		return m, err
	}
	dbPath := filepath.Join(dataDir, sqlstore.FileName)
	if _, err := os.Stat(dbPath); err != nil {
		return m, fmt.Errorf("%s is not an embedded parley data dir: %w", dataDir, err)
	}
	if within(to, dataDir) {
		return m, fmt.Errorf("backup target %s is inside the data dir %s", to, dataDir)
	}
	if err := checkTarget(to); err != nil {
		return m, err
	}
	tmp, err := stagingDir(to, "partial")
	if err != nil {
		return m, err
	}
	defer func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}()

	m = Manifest{Format: FormatVersion, ParleyVersion: opts.Version, CreatedAt: time.Now().UTC(), Source: dataDir}
	snap := filepath.Join(tmp, sqlstore.FileName)
	if err := snapshot(ctx, dbPath, snap); err != nil {
		return m, err
	}
	facts, err := readSnapshot(ctx, snap)
	if err != nil {
		return m, err
	}
	m.SchemaVersion, m.Rows = facts.schema, facts.rows
	size, sum, err := hashFile(snap)
	if err != nil {
		return m, err
	}
	m.Files = append(m.Files, File{Path: sqlstore.FileName, Size: size, SHA256: sum})

	for _, name := range keyFiles {
		size, sum, err := copyFile(filepath.Join(dataDir, name), filepath.Join(tmp, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return m, fmt.Errorf("copy %s: %w", name, err)
		}
		m.Files = append(m.Files, File{Path: name, Size: size, SHA256: sum})
	}

	if err := copyMedia(ctx, dataDir, tmp, facts, &m); err != nil {
		return m, err
	}
	if err := writeManifest(tmp, m); err != nil {
		return m, err
	}
	if err := syncDirs(tmp); err != nil {
		return m, fmt.Errorf("sync backup: %w", err)
	}
	if err := publish(tmp, to); err != nil {
		return m, err
	}
	tmp = ""
	return m, nil
}

// snapshot writes a consistent copy of the database at src to dst. The
// connection is read-only: a backup never migrates or otherwise changes
// the live database, whatever binary takes it.
func snapshot(ctx context.Context, src, dst string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	// The server's group commits hold the write lock briefly; VACUUM INTO
	// only needs a read snapshot, but opening one may wait on a checkpoint.
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+src+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("snapshot %s: %w", src, err)
	}
	// VACUUM INTO does not sync what it wrote.
	if err := syncFile(dst); err != nil {
		return fmt.Errorf("sync snapshot: %w", err)
	}
	return nil
}

// facts is what a backup learns from its snapshot.
type facts struct {
	schema int
	rows   map[string]int64
	// mediaIDs and avatarIDs are the first path segments of the media
	// objects the snapshot refers to ("<id>/…" and "avatars/<id>/…").
	mediaIDs, avatarIDs map[string]bool
	// expected are the objects that must exist for the snapshot to be
	// served whole: each ready media item's and each avatar's.
	expected []string
}

func openSnapshot(path string) (*sql.DB, error) {
	// immutable: nobody writes the snapshot, so SQLite takes no locks and
	// leaves no -wal or -shm files in the backup.
	return sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
}

func readSnapshot(ctx context.Context, path string) (facts, error) {
	f := facts{rows: map[string]int64{}, mediaIDs: map[string]bool{}, avatarIDs: map[string]bool{}}
	db, err := openSnapshot(path)
	if err != nil {
		return f, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&f.schema); err != nil {
		return f, fmt.Errorf("read schema version: %w", err)
	}
	tables, err := queryStrings(ctx, db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return f, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`).Scan(&n); err != nil {
			return f, fmt.Errorf("count %s: %w", t, err)
		}
		f.rows[t] = n
	}

	// The object names follow internal/media (service.go, avatar.go).
	rows, err := db.QueryContext(ctx, "SELECT id, status, thumb_size, variant_size FROM media")
	if err != nil {
		return f, fmt.Errorf("read media: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var thumb, variant int64
		if err := rows.Scan(&id, &status, &thumb, &variant); err != nil {
			return f, fmt.Errorf("read media: %w", err)
		}
		f.mediaIDs[id] = true
		if status != "ready" {
			continue
		}
		f.expected = append(f.expected, id+"/original")
		if thumb > 0 {
			f.expected = append(f.expected, id+"/thumb.jpg")
		}
		if variant > 0 {
			f.expected = append(f.expected, id+"/compressed.jpg")
		}
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("read media: %w", err)
	}
	avatars, err := queryStrings(ctx, db, "SELECT avatar_id FROM users WHERE avatar_id != '' UNION SELECT avatar_id FROM conversations WHERE avatar_id != ''")
	if err != nil {
		return f, fmt.Errorf("read avatars: %w", err)
	}
	for _, id := range avatars {
		f.avatarIDs[id] = true
		f.expected = append(f.expected, "avatars/"+id+"/640.jpg", "avatars/"+id+"/96.jpg")
	}
	sort.Strings(f.expected)
	return f, nil
}

func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	return store.ScanStrings(db.QueryContext(ctx, q))
}

// referenced reports whether the snapshot knows the media object key.
func (f facts) referenced(key string) bool {
	first, rest, _ := strings.Cut(key, "/")
	if first == "avatars" {
		id, _, _ := strings.Cut(rest, "/")
		return f.avatarIDs[id]
	}
	return f.mediaIDs[first]
}

// copyMedia copies the local media objects the snapshot refers to and
// warns of those it expects but cannot find: a row whose bytes are gone
// would hand out URLs that answer 404 after a restore.
func copyMedia(ctx context.Context, dataDir, tmp string, f facts, m *Manifest) error {
	root := filepath.Join(dataDir, local.Dir)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		if len(f.expected) > 0 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("no %s/ in the data dir, but the snapshot names %d media objects: they are kept elsewhere (S3?) and are not in this backup", local.Dir, len(f.expected)))
		}
		return nil
	}
	copied := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walk: the cleanup job's
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Dot files are uploads still being written (blob/local's
		// temporary files): never an object.
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !f.referenced(key) {
			m.SkippedMedia++
			return nil
		}
		name := path.Join(local.Dir, key)
		size, sum, err := copyFile(p, filepath.Join(tmp, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the walk saw it; warned of below if expected
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		copied[key] = true
		m.Files = append(m.Files, File{Path: name, Size: size, SHA256: sum})
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy media: %w", err)
	}
	for _, key := range f.expected {
		if !copied[key] {
			m.Warnings = append(m.Warnings, fmt.Sprintf("missing media object %s: the snapshot names it, the data dir does not hold it", key))
		}
	}
	return nil
}
