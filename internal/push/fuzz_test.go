package push

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"testing"
)

// The RFC 8291 Appendix A user agent's keys.
const (
	rfcUAPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
	rfcAuth     = "BTBZMqHH6r4Tts7J_aSIgg"
)

// FuzzSubscriptionKeys checks the parsing of a subscription's keys: it
// refuses with ErrBadSubscription, or gives a 65-byte P-256 point and a
// 16-byte secret that encode back to the same key material and that a
// push can be encrypted for.
func FuzzSubscriptionKeys(f *testing.F) {
	f.Add(rfcUAPublic, rfcAuth)
	f.Add(rfcUAPublic+"=", rfcAuth+"==")
	f.Add(rfcUAPublic[:40], rfcAuth)
	f.Add("BCVxsr7N/eNgVRqvHtD0zTZsEc6+VV", rfcAuth)
	f.Add(rfcUAPublic, rfcAuth[:10])
	f.Add("", "")
	f.Fuzz(func(t *testing.T, p256dh, auth string) {
		pub, sec, err := Subscription{P256DH: p256dh, Auth: auth}.keys()
		if err != nil {
			if !errors.Is(err, ErrBadSubscription) {
				t.Fatalf("refusal is not ErrBadSubscription: %v", err)
			}
			return
		}
		if len(pub) != 65 || pub[0] != 4 || len(sec) != 16 {
			t.Fatalf("accepted a %d-byte key and a %d-byte secret", len(pub), len(sec))
		}
		pub2, sec2, err := Subscription{P256DH: b64.EncodeToString(pub), Auth: b64.EncodeToString(sec)}.keys()
		if err != nil || !bytes.Equal(pub, pub2) || !bytes.Equal(sec, sec2) {
			t.Fatalf("keys do not survive re-encoding: %v", err)
		}
		if _, err := Encrypt([]byte("notice"), pub, sec); err != nil {
			t.Fatalf("accepted keys cannot be encrypted for: %v", err)
		}
	})
}

// FuzzEncrypt encrypts arbitrary plaintext for a generated user agent
// key and checks that the user agent decrypts it back (RFC 8188 and 8291,
// as a browser does), that a payload over one record is refused, and that
// changing any byte of the salt, the sender's key or the ciphertext makes
// decryption fail.
func FuzzEncrypt(f *testing.F) {
	f.Add([]byte("When I grow up, I want to be a watermelon"), uint16(0), byte(1))
	f.Add([]byte(`{"type":"message","conversation_id":"c","sender_id":"u","sender_name":"Ann","unread":3}`), uint16(30), byte(0x80))
	f.Add([]byte{}, uint16(100), byte(0xff))
	f.Add(make([]byte, maxPlaintext), uint16(4000), byte(2))
	f.Add(make([]byte, maxPlaintext+1), uint16(0), byte(1))
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	f.Fuzz(func(t *testing.T, plaintext []byte, pos uint16, flip byte) {
		body, err := Encrypt(plaintext, ua.PublicKey().Bytes(), auth)
		if len(plaintext) > maxPlaintext {
			if err == nil {
				t.Fatalf("encrypted %d bytes, over one record", len(plaintext))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := 16 + 4 + 1 + 65 + len(plaintext) + 1 + 16; len(body) != want {
			t.Fatalf("body of %d bytes, want %d", len(body), want)
		}
		got, err := decryptForTest(body, ua, auth)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("decrypts to %q (err %v), want %q", got, err, plaintext)
		}
		i := int(pos) % len(body)
		if flip == 0 || i >= 16 && i < 21 { // rs and idlen: not authenticated, checked below
			return
		}
		bad := bytes.Clone(body)
		bad[i] ^= flip
		if got, err := decryptForTest(bad, ua, auth); err == nil {
			t.Fatalf("byte %d changed, and it still decrypts (to %q)", i, got)
		}
	})
}

// decryptForTest is the user agent's side: one aes128gcm record (RFC
// 8188) whose key comes from the sender's key in its header (RFC 8291).
func decryptForTest(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, errors.New("keyid is not a P-256 point")
	}
	asPublic, rec := body[21:21+idlen], body[21+idlen:]
	if uint32(len(rec)) > rs || rs < 18 {
		return nil, errors.New("record larger than rs")
	}
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, err
	}
	cek, nonce, err := contentKeys(ua, as, asPublic, ua.PublicKey().Bytes(), auth, salt)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(cek)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, rec, nil)
	if err != nil {
		return nil, err
	}
	plain = bytes.TrimRight(plain, "\x00") // padding
	if len(plain) == 0 || plain[len(plain)-1] != 0x02 {
		return nil, errors.New("not the last record")
	}
	return plain[:len(plain)-1], nil
}
