// Package backup takes a consistent copy of an embedded (SQLite) data dir
// while a server runs on it, and restores one into an empty dir.
//
// A backup is a directory: parley.db (a snapshot made with VACUUM INTO),
// the keys kept in the data dir, the media files the snapshot refers to,
// and manifest.json, written last, which lists every file with its size
// and SHA-256. The database snapshot is the truth: media are copied after
// it, so every object a snapshot row names was already written when the
// copy starts; objects it does not know (uploads begun after it) are left
// out.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// ManifestName is the manifest's file name in a backup.
const ManifestName = "manifest.json"

// Errors a caller may tell apart.
var (
	// ErrNotEmpty: a backup or restore target that holds something.
	ErrNotEmpty = errors.New("target exists and is not empty")
	// ErrCorrupt: a backup whose files do not match its manifest.
	ErrCorrupt = errors.New("backup does not match its manifest")
	// ErrNewerSchema: a backup made by a newer parley than this one.
	ErrNewerSchema = errors.New("backup has a newer database schema than this parley")
)

// Manifest describes a backup.
type Manifest struct {
	Format        int    `json:"format"`
	ParleyVersion string `json:"parley_version"`
	// SchemaVersion is the newest migration applied to the snapshot.
	SchemaVersion int       `json:"schema_version"`
	CreatedAt     time.Time `json:"created_at"`
	// Source is the data dir the backup was taken from, for the reader.
	Source string `json:"source"`
	Files  []File `json:"files"`
	// Rows counts the rows of each table in the snapshot.
	Rows map[string]int64 `json:"rows"`
	// SkippedMedia counts media files left out because the snapshot does
	// not refer to them (uploads begun after it, objects already deleted
	// from it).
	SkippedMedia int `json:"skipped_media_files"`
	// Warnings are what an operator should know: above all, objects the
	// snapshot names that were missing from the data dir.
	Warnings []string `json:"warnings,omitempty"`
}

// File is one file of a backup.
type File struct {
	// Path is slash-separated and relative to the backup (and to the data
	// dir it restores into).
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bytes is the total size of the files.
func (m Manifest) Bytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// ReadManifest reads the manifest of the backup in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%s has no %s: not a backup, or an incomplete one", dir, ManifestName)
	}
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %w", ErrCorrupt, ManifestName, err)
	}
	if m.Format != FormatVersion {
		return m, fmt.Errorf("%s: format %d, this parley reads format %d", ManifestName, m.Format, FormatVersion)
	}
	return m, nil
}

// writeManifest writes m into dir and syncs it.
func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
