package config

import "flag"

// MediaConfig configures media storage and processing (issue 7).
type MediaConfig struct{}

// registerMediaFlags adds the media flags to fs.
func registerMediaFlags(fs *flag.FlagSet, m *MediaConfig) {}

// validate reports media settings that cannot work.
func (m MediaConfig) validate() []error { return nil }
