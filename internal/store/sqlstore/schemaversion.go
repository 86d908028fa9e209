package sqlstore

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// SQLiteSchemaVersion is the number of the newest SQLite migration built
// into this binary: the schema a database it opens ends up at. A restore
// compares a backup's schema with it, since a database from a newer
// binary has tables and columns this one does not know.
func SQLiteSchemaVersion() (int, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	newest := 0
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		newest = max(newest, v)
	}
	return newest, nil
}
