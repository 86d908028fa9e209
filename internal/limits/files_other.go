//go:build !unix

package limits

// FileLimit is 0 (unknown): only Unix limits open files with RLIMIT_NOFILE.
func FileLimit() int64 { return 0 }
