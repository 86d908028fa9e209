//go:build unix

package limits

import "syscall"

// FileLimit is the process's soft RLIMIT_NOFILE; 0 if unknown. (The Go
// runtime raises the soft limit to the hard one at start-up, and `parley
// serve` does so explicitly too.)
func FileLimit() int64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur > 1<<62 {
		return 1 << 62 // RLIM_INFINITY
	}
	return int64(lim.Cur)
}
