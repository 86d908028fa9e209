package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkTarget accepts a dir that does not exist or is empty: a backup or
// a restore never mixes its files with others.
func checkTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: %s (%d entries); use a new or empty directory", ErrNotEmpty, dir, len(entries))
	}
	return nil
}

// stagingDir makes a hidden dir beside target to build in; renamed over
// target at the end, so a crash leaves only a dot-dir behind, never a
// target that looks complete.
func stagingDir(target, what string) (string, error) {
	parent, base := filepath.Dir(target), filepath.Base(target)
	if _, err := os.Stat(parent); err != nil {
		return "", fmt.Errorf("parent of %s: %w", target, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+"."+what+"-")
	if err != nil {
		return "", fmt.Errorf("staging dir: %w", err)
	}
	return tmp, nil
}

// publish renames the staging dir to target and syncs the parent so the
// rename survives a crash. An empty target is removed first: os.Rename
// refuses to replace a dir, and os.Remove refuses a non-empty one, so
// nothing put there meanwhile is lost.
func publish(tmp, target string) error {
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", ErrNotEmpty, target, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("move %s into place: %w", target, err)
	}
	return syncDir(filepath.Dir(target))
}

// copyFile copies src to dst (creating dst's dirs, owner-only: the files
// hold every message and the server's keys), syncs it and returns its
// size and SHA-256.
func copyFile(src, dst string) (size int64, sum string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", err
	}
	defer in.Close()
	h := sha256.New()
	err = writeSynced(dst, func(w io.Writer) error {
		size, err = io.Copy(io.MultiWriter(w, h), in)
		return err
	})
	if err != nil {
		return 0, "", err
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// writeSynced creates path (mode 0600, its dirs 0700), fills it with
// write and syncs it.
func writeSynced(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	werr := write(f)
	if werr == nil {
		werr = f.Sync()
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// hashFile returns the size and SHA-256 of the file at path.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// syncFile syncs a file written by someone else (SQLite's VACUUM INTO
// does not sync its output).
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// syncDirs syncs root and every dir under it, so the entries of the files
// written there survive a crash too.
func syncDirs(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// validPath refuses a manifest path that would write outside the target
// or over the manifest: a manifest is read from a backup that may have
// been tampered with.
func validPath(p string) error {
	if p == "" || strings.Contains(p, "\\") || !filepath.IsLocal(filepath.FromSlash(p)) || p == ManifestName {
		return fmt.Errorf("%w: file path %q", ErrCorrupt, p)
	}
	return nil
}
