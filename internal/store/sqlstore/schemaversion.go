package sqlstore

import (
	"io/fs"

	"github.com/parleychat/parley/internal/store"
)

// SQLiteSchemaVersion is the number of the newest SQLite migration built
// into this binary: the schema a database it opens ends up at. A restore
// compares a backup's schema with it, since a database from a newer
// binary has tables and columns this one does not know.
func SQLiteSchemaVersion() (int, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, err
	}
	ms, err := store.Migrations(dir)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].Version, nil
}
