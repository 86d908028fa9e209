package media

// Supports reports whether this server can process uploads of kind k at
// this moment. Images and documents need nothing outside the binary; video
// and audio need ffprobe and ffmpeg, looked up on every call (a LookPath,
// microseconds), so installing the ffmpeg package shows without a restart.
// Clients ask through GET /api/v1/server and offer only what works: without
// ffmpeg a voice note would upload in full and then fail to complete.
func (s *Service) Supports(k Kind) bool {
	switch k {
	case KindImage, KindDocument:
		return true
	case KindVideo, KindAudio:
		return s.cfg.Tools.Available() == nil
	default:
		return false
	}
}
