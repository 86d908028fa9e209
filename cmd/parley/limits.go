//go:build unix

package main

import (
	"fmt"
	"log/slog"
	"syscall"
)

// raiseFileLimit lifts the soft limit on open files (RLIMIT_NOFILE) to
// the hard limit. Every WebSocket is a descriptor: the usual soft limit of
// 1024 would cap a server, or the load generator, far below what it can
// hold. (The Go runtime does the same at start-up since Go 1.19; doing it
// here too states the need and reports the limit the process ends with.)
func raiseFileLimit(log *slog.Logger) {
	n, err := raiseNOFILE()
	if err != nil {
		log.Warn("raise the open file limit", "err", err, "limit", n)
		return
	}
	log.Debug("open file limit", "limit", n)
}

// raiseNOFILE sets the soft RLIMIT_NOFILE to the hard one and returns the
// soft limit in force afterwards.
func raiseNOFILE() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= lim.Max {
		return uint64(lim.Cur), nil
	}
	cur := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return uint64(cur), fmt.Errorf("setrlimit to %d: %w", lim.Max, err)
	}
	return uint64(lim.Cur), nil
}
