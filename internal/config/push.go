package config

import (
	"errors"
	"flag"
	"strings"
)

// PushConfig configures Web Push (internal/push).
type PushConfig struct {
	// VAPIDPrivateKey is the application server key, base64url of the
	// P-256 scalar; empty: generated at first start and kept in the data
	// dir (push.KeyFileName). Every node of a cluster must share one: a
	// subscription is bound to the key it was made with.
	VAPIDPrivateKey string
	// VAPIDSubject is the operator's contact for push services, a mailto:
	// or https: URI (RFC 8292 §2.1; some push services refuse without).
	VAPIDSubject string
	// AllowInsecureHosts may be http and private or loopback addresses:
	// tests and self-hosted push services. Host or host:port entries.
	AllowInsecureHosts []string
}

// hostList is a comma-separated flag value.
type hostList struct{ v *[]string }

func (h hostList) String() string {
	if h.v == nil {
		return ""
	}
	return strings.Join(*h.v, ",")
}

func (h hostList) Set(s string) error {
	*h.v = nil
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*h.v = append(*h.v, p)
		}
	}
	return nil
}

func registerPushFlags(fs *flag.FlagSet, c *PushConfig) {
	fs.StringVar(&c.VAPIDPrivateKey, "vapid-private-key", c.VAPIDPrivateKey, "Web Push VAPID private key, base64url (default: generated into the data dir; required to push in a cluster)")
	fs.StringVar(&c.VAPIDSubject, "vapid-subject", c.VAPIDSubject, "operator contact sent to push services: mailto:you@example.com or an https: URL")
	fs.Var(hostList{&c.AllowInsecureHosts}, "push-allow-insecure-host", "comma-separated hosts (or host:port) push endpoints may use over http and on private or loopback addresses (tests only)")
}

func (c PushConfig) validate() []error {
	var errs []error
	if s := c.VAPIDSubject; s != "" && !strings.HasPrefix(s, "mailto:") && !strings.HasPrefix(s, "https:") {
		errs = append(errs, errors.New("vapid-subject must be a mailto: or https: URI"))
	}
	return errs
}
