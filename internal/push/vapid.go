package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeyFileName is the file in the data dir that holds the VAPID private
// key generated at first start.
const KeyFileName = "vapid.key"

// TokenTTL is how long a VAPID JWT is valid: RFC 8292 §2 caps exp at 24
// hours; 12 leaves room for a clock that is off.
const TokenTTL = 12 * time.Hour

var b64 = base64.RawURLEncoding

// VAPID is the server's application server key pair (RFC 8292) and the
// contact push services may use to reach its operator.
type VAPID struct {
	key     *ecdsa.PrivateKey
	public  string // base64url of the uncompressed point
	subject string
}

// NewVAPID parses a private key, the base64url of its 32-byte scalar (the
// form web-push tools print), and checks the subject: a mailto: or
// https: URI, or empty.
func NewVAPID(privateKey, subject string) (*VAPID, error) {
	raw, err := b64.DecodeString(strings.TrimRight(strings.TrimSpace(privateKey), "="))
	if err != nil {
		return nil, fmt.Errorf("vapid private key is not base64url: %w", err)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("vapid private key: %w", err)
	}
	if subject != "" && !strings.HasPrefix(subject, "mailto:") && !strings.HasPrefix(subject, "https:") {
		return nil, fmt.Errorf("vapid subject %q must be a mailto: or https: URI", subject)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("vapid public key: %w", err)
	}
	return &VAPID{key: k, public: b64.EncodeToString(pub), subject: subject}, nil
}

// LoadOrCreateVAPID reads the key kept in dir, or generates one and keeps
// it there (mode 0600) on first start: subscriptions are bound to the key,
// so it must survive restarts.
func LoadOrCreateVAPID(dir, subject string) (*VAPID, error) {
	path := filepath.Join(dir, KeyFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("generate vapid key: %w", gerr)
		}
		raw, gerr := k.Bytes()
		if gerr != nil {
			return nil, fmt.Errorf("encode vapid key: %w", gerr)
		}
		b = []byte(b64.EncodeToString(raw) + "\n")
		// O_EXCL: the data dir is locked by this process, but a key must
		// never be overwritten, whatever happened before.
		f, gerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if gerr != nil {
			return nil, fmt.Errorf("create %s: %w", path, gerr)
		}
		_, gerr = f.Write(b)
		if gerr = errors.Join(gerr, f.Sync(), f.Close()); gerr != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("write %s: %w", path, gerr)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	v, err := NewVAPID(string(b), subject)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// PublicKey is the application server key a browser subscribes with:
// base64url of the uncompressed P-256 point (65 bytes).
func (v *VAPID) PublicKey() string { return v.public }

// Authorization is the Authorization header of a push to endpoint at now
// (RFC 8292 §3): a JWT signed with ES256 whose aud is the endpoint's
// origin, and the public key.
func (v *VAPID) Authorization(endpoint string, now time.Time) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint: %w", err)
	}
	claims := struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub,omitempty"`
	}{Aud: u.Scheme + "://" + u.Host, Exp: now.Add(TokenTTL).Unix(), Sub: v.subject}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("vapid claims: %w", err)
	}
	signing := b64.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`)) + "." + b64.EncodeToString(body)
	h := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, v.key, h[:])
	if err != nil {
		return "", fmt.Errorf("sign vapid token: %w", err)
	}
	// JWS ES256 is r and s as two 32-byte big-endian integers (RFC 7518
	// §3.4), not the ASN.1 of ecdsa.SignASN1.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return "vapid t=" + signing + "." + b64.EncodeToString(sig) + ", k=" + v.public, nil
}
