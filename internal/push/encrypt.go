package push

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// recordSize is the rs of the one RFC 8188 record a push carries: a
// notice is far below it, so the body is always one record.
const recordSize = 4096

// maxPlaintext is the largest payload one record holds: the record, less
// the AEAD tag (16) and the padding delimiter (1).
const maxPlaintext = recordSize - 16 - 1

// Encrypt encrypts plaintext for a user agent (RFC 8291, content coding
// aes128gcm of RFC 8188): uaPublic is its p256dh key, an uncompressed
// P-256 point, and auth its 16-byte secret. Each call uses a fresh
// ephemeral key and salt, as the RFC requires.
func Encrypt(plaintext, uaPublic, auth []byte) ([]byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	return encrypt(plaintext, uaPublic, auth, eph, salt)
}

// encrypt is Encrypt with the ephemeral key and salt given, so that the
// test can reproduce RFC 8291's Appendix A byte for byte.
func encrypt(plaintext, uaPublic, auth []byte, as *ecdh.PrivateKey, salt []byte) ([]byte, error) {
	if len(plaintext) > maxPlaintext {
		return nil, fmt.Errorf("payload of %d bytes is over the %d of one record", len(plaintext), maxPlaintext)
	}
	if len(auth) != 16 {
		return nil, errors.New("auth secret must be 16 bytes")
	}
	ua, err := ecdh.P256().NewPublicKey(uaPublic)
	if err != nil {
		return nil, fmt.Errorf("user agent key: %w", err)
	}
	cek, nonce, err := contentKeys(as, ua, as.PublicKey().Bytes(), uaPublic, auth, salt)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(cek)
	if err != nil {
		return nil, err
	}
	asPublic := as.PublicKey().Bytes()
	// Header (RFC 8188 §2.1): salt, rs, idlen, keyid = the sender's key.
	out := make([]byte, 0, 16+4+1+len(asPublic)+len(plaintext)+1+gcm.Overhead())
	out = append(out, salt...)
	out = binary.BigEndian.AppendUint32(out, recordSize)
	out = append(out, byte(len(asPublic)))
	out = append(out, asPublic...)
	// The last (and only) record ends with the delimiter 0x02, no padding.
	rec := append(append(make([]byte, 0, len(plaintext)+1), plaintext...), 0x02)
	return gcm.Seal(out, nonce, rec, nil), nil
}

// contentKeys derives the content encryption key and nonce (RFC 8291 §3.3
// and §3.4, RFC 8188 §2.2). priv and pub are the two sides of the ECDH:
// the sender's private key and the receiver's public one when encrypting,
// the other way round when decrypting; asPublic and uaPublic name the
// sides in the key info whichever is local.
func contentKeys(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, asPublic, uaPublic, auth, salt []byte) (cek, nonce []byte, err error) {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("ecdh: %w", err)
	}
	info := append(append([]byte("WebPush: info\x00"), uaPublic...), asPublic...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf ikm: %w", err)
	}
	if cek, err = hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16); err != nil {
		return nil, nil, fmt.Errorf("hkdf cek: %w", err)
	}
	if nonce, err = hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12); err != nil {
		return nil, nil, fmt.Errorf("hkdf nonce: %w", err)
	}
	return cek, nonce, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return gcm, nil
}
