package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockFileName is the file in the data dir that one process holds locked
// while it uses the dir.
const LockFileName = "parley.lock"

// ErrDataDirInUse is returned when another process holds the data dir.
var ErrDataDirInUse = errors.New("data dir is in use by another parley process")

// dirLock is an exclusive lock on a data dir. Two processes serving one
// data dir both accepted traffic and split the users between them: an
// acknowledged message never reached a user connected to the other one.
// The lock is flock(2), so the kernel releases it when the holder dies,
// even by SIGKILL: a crash never leaves a stale lock behind.
type dirLock struct{ f *os.File }

// lockDataDir takes the data dir's lock or names the process holding it.
// holder describes this process in the lock file for the next one.
func lockDataDir(dir, holder string) (*dirLock, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 512)
		n, _ := f.ReadAt(b, 0)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(b[:n]))
			if who == "" {
				who = "unknown process"
			}
			return nil, fmt.Errorf("%w: %s is held by %s", ErrDataDirInUse, dir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holder+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release gives the lock up; the file stays, it is harmless unlocked.
func (l *dirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// holderLine describes this process for the lock file.
func holderLine(addr string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("pid %d on host %s (addr %s, started %s)", os.Getpid(), host, addr, time.Now().UTC().Format(time.RFC3339))
}

// LockDataDir takes dir's lock for a command other than serve (one that
// must not run beside a server on the same dir, such as migrate), or
// returns an error wrapping ErrDataDirInUse that names the holder. what
// names the command in the lock file; release gives the lock up.
func LockDataDir(dir, what string) (release func(), err error) {
	host, _ := os.Hostname()
	l, err := lockDataDir(dir, fmt.Sprintf("pid %d on host %s (%s, started %s)", os.Getpid(), host, what, time.Now().UTC().Format(time.RFC3339)))
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
