package push

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// TestEncryptRFC8291 reproduces RFC 8291 Appendix A byte for byte: its
// keys, salt and auth secret give exactly its body.
func TestEncryptRFC8291(t *testing.T) {
	as, err := ecdh.P256().NewPrivateKey(unb64(t, "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b64.EncodeToString(as.PublicKey().Bytes()), "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"; got != want {
		t.Fatalf("application server public key %s, want %s", got, want)
	}
	body, err := encrypt(
		[]byte("When I grow up, I want to be a watermelon"),
		unb64(t, "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
		unb64(t, "BTBZMqHH6r4Tts7J_aSIgg"),
		as,
		unb64(t, "DGv6ra1nlYgDCS1FRnbzlw"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	if got := b64.EncodeToString(body); got != want {
		t.Fatalf("body\n %s\nwant\n %s", got, want)
	}
}

func TestEncryptFreshKeyAndSalt(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(nil)
	auth := bytes.Repeat([]byte{7}, 16)
	a, err := Encrypt([]byte("x"), ua.PublicKey().Bytes(), auth)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Encrypt([]byte("x"), ua.PublicKey().Bytes(), auth)
	if bytes.Equal(a[:16], b[:16]) || bytes.Equal(a[21:86], b[21:86]) {
		t.Fatal("two encryptions share a salt or an ephemeral key")
	}
	if _, err := Encrypt(make([]byte, maxPlaintext+1), ua.PublicKey().Bytes(), auth); err == nil {
		t.Fatal("a payload over one record was encrypted")
	}
}

// TestVAPIDToken checks the JWT with crypto/ecdsa alone: header, claims
// and an ES256 signature by the key PublicKey names.
func TestVAPIDToken(t *testing.T) {
	dir := t.TempDir()
	v, err := LoadOrCreateVAPID(dir, "mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode())
	}
	again, err := LoadOrCreateVAPID(dir, "mailto:ops@example.com")
	if err != nil || again.PublicKey() != v.PublicKey() {
		t.Fatalf("key not kept across starts: %v", err)
	}
	now := time.Unix(1_700_000_000, 0)
	h, err := v.Authorization("https://push.example.net:8443/wpush/v2/abc?x=1", now)
	if err != nil {
		t.Fatal(err)
	}
	tok, k, ok := strings.Cut(strings.TrimPrefix(h, "vapid t="), ", k=")
	if !ok || !strings.HasPrefix(h, "vapid t=") || k != v.PublicKey() {
		t.Fatalf("header %q", h)
	}
	pub := unb64(t, k)
	if len(pub) != 65 || pub[0] != 4 {
		t.Fatalf("public key of %d bytes", len(pub))
	}
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	sig := unb64(t, parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("signature does not verify")
	}
	var head struct{ Alg, Typ string }
	var claims struct {
		Aud string
		Exp int64
		Sub string
	}
	if err := json.Unmarshal(unb64(t, parts[0]), &head); err != nil || head.Alg != "ES256" {
		t.Fatalf("header %+v: %v", head, err)
	}
	if err := json.Unmarshal(unb64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Aud != "https://push.example.net:8443" || claims.Sub != "mailto:ops@example.com" {
		t.Fatalf("claims %+v", claims)
	}
	if exp := time.Unix(claims.Exp, 0); !exp.After(now) || exp.Sub(now) > 24*time.Hour {
		t.Fatalf("exp %v is not within 24 h of %v", exp, now)
	}
}

func TestNewVAPIDRefuses(t *testing.T) {
	for _, c := range []struct{ key, sub string }{
		{"not base64!", ""},
		{b64.EncodeToString([]byte("short")), ""},
		{"yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw", "ops@example.com"},
	} {
		if _, err := NewVAPID(c.key, c.sub); err == nil {
			t.Errorf("NewVAPID(%q, %q) accepted", c.key, c.sub)
		}
	}
}
