package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parleychat/parley/internal/store/sqlstore"
)

// Verify checks the backup in dir against its manifest, every file's size
// and SHA-256, and that this binary can run its schema. It writes nothing.
func Verify(ctx context.Context, dir string) (Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return m, err
	}
	schema, err := sqlstore.SQLiteSchemaVersion()
	if err != nil {
		return m, err
	}
	if m.SchemaVersion > schema {
		return m, fmt.Errorf("%w: the backup's schema is %d (made by parley %q), this parley's is %d: restore it with that version or a newer one",
			ErrNewerSchema, m.SchemaVersion, m.ParleyVersion, schema)
	}
	hasDB := false
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		if err := validPath(f.Path); err != nil {
			return m, err
		}
		if seen[f.Path] {
			return m, fmt.Errorf("%w: %s is listed twice", ErrCorrupt, f.Path)
		}
		seen[f.Path] = true
		hasDB = hasDB || f.Path == sqlstore.FileName
		size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return m, fmt.Errorf("%w: %s: %w", ErrCorrupt, f.Path, err)
		}
		if size != f.Size || sum != f.SHA256 {
			return m, fmt.Errorf("%w: %s is %d bytes with SHA-256 %s, the manifest says %d bytes with %s",
				ErrCorrupt, f.Path, size, sum, f.Size, f.SHA256)
		}
	}
	if !hasDB {
		return m, fmt.Errorf("%w: no %s in the manifest", ErrCorrupt, sqlstore.FileName)
	}
	return m, nil
}

// Restore copies the backup in from into dataDir, which must not exist or
// be empty. The whole backup is verified first: a corrupt one is refused
// before anything is written. The data dir appears complete or not at
// all. A server started on it afterwards migrates the database forward if
// the backup came from an older parley.
func Restore(ctx context.Context, from, dataDir string) (Manifest, error) {
	target, err := filepath.Abs(dataDir)
	if err != nil {
		return Manifest{}, err
	}
	if err := checkTarget(target); err != nil {
		return Manifest{}, err
	}
	m, err := Verify(ctx, from)
	if err != nil {
		return m, err
	}
	tmp, err := stagingDir(target, "restore")
	if err != nil {
		return m, err
	}
	defer func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}()
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return m, err
		}
		rel := filepath.FromSlash(f.Path)
		size, sum, err := copyFile(filepath.Join(from, rel), filepath.Join(tmp, rel))
		if err != nil {
			return m, fmt.Errorf("copy %s: %w", f.Path, err)
		}
		// Checked again as copied: the backup could change under us.
		if size != f.Size || sum != f.SHA256 {
			return m, fmt.Errorf("%w: %s changed while it was restored", ErrCorrupt, f.Path)
		}
	}
	if err := syncDirs(tmp); err != nil {
		return m, fmt.Errorf("sync restore: %w", err)
	}
	// The data dir's own mode, as the server creates it: it holds every
	// message.
	if err := os.Chmod(tmp, 0o700); err != nil {
		return m, err
	}
	if err := checkTarget(target); err != nil {
		return m, err
	}
	if err := publish(tmp, target); err != nil {
		return m, err
	}
	tmp = ""
	return m, nil
}
