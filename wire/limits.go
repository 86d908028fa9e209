package wire

// Limits bound what one client may put in one frame. The defaults are the
// contract's; operators may lower or raise them through config.
type Limits struct {
	// MaxContentBytes bounds a message's opaque content (contract: 64 KiB).
	MaxContentBytes int
	// MaxFrameBytes bounds one WebSocket text frame. Larger frames are read
	// and discarded (up to HardFrameBytes) and answered with too_large.
	MaxFrameBytes int
	// HardFrameBytes is the size past which the connection is closed with
	// 1009 instead: reading gigabytes to discard them would be a DoS.
	HardFrameBytes int
	// MaxIDsPerFrame bounds message_ids and user_ids lists.
	MaxIDsPerFrame int
}

// Default limits.
const (
	DefaultMaxContentBytes = 64 << 10
	// Content is a JSON string: escaping can grow it, so the frame limit
	// leaves room for 64 KiB of base64 or escaped text plus the envelope.
	DefaultMaxFrameBytes  = 256 << 10
	DefaultHardFrameBytes = 4 << 20
	DefaultMaxIDsPerFrame = 1000
)

// DefaultLimits returns the contract's limits.
func DefaultLimits() Limits {
	return Limits{
		MaxContentBytes: DefaultMaxContentBytes,
		MaxFrameBytes:   DefaultMaxFrameBytes,
		HardFrameBytes:  DefaultHardFrameBytes,
		MaxIDsPerFrame:  DefaultMaxIDsPerFrame,
	}
}
