package wire

import "time"

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

// The contract's other bounds (docs/PROTOCOL.md §1, §2, §5). The server's
// packages take their values from here, so a client can check what the
// server will refuse before it asks.
const (
	MinUsernameLen    = 3   // characters of A–Z a–z 0–9 _ . -
	MaxUsernameLen    = 32  // characters
	MinPasswordLen    = 8   // bytes
	MaxPasswordLen    = 256 // bytes
	MaxDisplayNameLen = 64  // printable characters
	MaxGroupNameLen   = 100 // printable characters
	MaxDeviceNameLen  = 64  // printable characters
	// MaxAboutLen bounds a profile's about text (added): characters after
	// Unicode NFC normalisation, line breaks and other controls refused.
	MaxAboutLen = 140
	// MaxGroupDescriptionLen counts characters after NFC normalisation.
	MaxGroupDescriptionLen = 512
	// MaxQuoteBytes bounds the content a reply's quote carries (added).
	MaxQuoteBytes = 200
	// EditWindow is how long after sending its sender may edit a message
	// (added); DeleteWindow how long it may delete it for everyone. A
	// group admin deletes any member's message at any age.
	EditWindow   = 15 * time.Minute
	DeleteWindow = 48 * time.Hour
	// ForwardedManyTimes is the hop count from which a message is
	// "forwarded many times" and can be forwarded to one chat at a time.
	ForwardedManyTimes = 5
	// DisappearingOff, Disappearing24h, Disappearing7d and
	// Disappearing90d are a conversation's disappearing-message settings
	// (added), in seconds.
	DisappearingOff = 0
	Disappearing24h = 86400
	Disappearing7d  = 604800
	Disappearing90d = 7776000
	// MaxEmojiBytes bounds a reaction's one emoji (a long ZWJ sequence
	// is about 35 bytes).
	MaxEmojiBytes = 64

	// DefaultMaxGroupSize counts the creator (--max-group-size).
	DefaultMaxGroupSize = 100
	// DefaultMaxDevices is how many sessions a user keeps signed in
	// (--max-devices); a login past it signs the oldest out.
	DefaultMaxDevices = 5

	// DefaultPageSize and MaxPageSize bound a page of history (?limit=).
	DefaultPageSize = 50
	MaxPageSize     = 500

	// MaxBodyBytes bounds an HTTP request body.
	MaxBodyBytes = 1 << 20
)
