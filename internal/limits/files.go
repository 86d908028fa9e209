package limits

// Connections derived from the open-file limit (--max-conns auto).
const (
	// minFileReserve is the least of the file limit kept for what is not a
	// client connection: the SQLite database and its WAL, PostgreSQL and
	// Redis pools, media files being written or processed, ffmpeg pipes,
	// the listener itself.
	minFileReserve = 64
	// fileReserveShare of a large limit is kept as well: those needs grow
	// with the load the limit was sized for.
	fileReserveShare = 20 // 1/20 = 5%
	// maxAutoConns bounds a limit that is effectively unlimited.
	maxAutoConns = 1 << 20
)

// ConnsForFileLimit is the cap on connections a process with an open-file
// limit of limit can hold and keep the reserve free: 0 (no cap) when the
// limit is unknown (limit <= 0).
func ConnsForFileLimit(limit int64) int {
	if limit <= 0 {
		return 0
	}
	reserve := max(minFileReserve, limit/fileReserveShare)
	return int(min(max(limit-reserve, 1), maxAutoConns))
}

// HTTPHeadroom is how many of total connections WebSockets may not take,
// so plain HTTP (/healthz, logins, API calls) always has room: a tenth,
// and at least 64 or, for a tiny total, half of it.
func HTTPHeadroom(total int) int {
	return max(total/10, min(64, total/2))
}
