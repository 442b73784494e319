package pageshot

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NewKey returns a new API key with fresh secrets, and the key string the
// client sends: "ID.SECRET". Only a hash of SECRET is kept in the key.
func NewKey(name, plan string, scopes []Scope, now time.Time) (*APIKey, string, error) {
	idBytes, secret, signing, webhook := make([]byte, 10), make([]byte, 32), make([]byte, 32), make([]byte, 24)
	for _, b := range [][]byte{idBytes, secret, signing, webhook} {
		if _, err := rand.Read(b); err != nil {
			return nil, "", fmt.Errorf("new key: %w", err)
		}
	}
	id := "key_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(idBytes))
	s := base64.RawURLEncoding.EncodeToString(secret)
	hash := sha256.Sum256([]byte(s))
	k := &APIKey{
		ID:            id,
		Name:          name,
		Plan:          plan,
		Scopes:        scopes,
		SecretHash:    hash[:],
		SigningSecret: "sig_" + base64.RawURLEncoding.EncodeToString(signing),
		WebhookSecret: "whsec_" + base64.StdEncoding.EncodeToString(webhook),
		CreatedAt:     now.UTC(),
	}
	return k, id + "." + s, nil
}

// ParseKey splits a key string into its id and secret.
func ParseKey(key string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(key, ".")
	return id, secret, ok && id != "" && secret != ""
}

// CheckSecret reports, in constant time, whether secret is k's.
func (k *APIKey) CheckSecret(secret string) bool {
	h := sha256.Sum256([]byte(secret))
	return len(k.SecretHash) == len(h) && subtle.ConstantTimeCompare(k.SecretHash, h[:]) == 1
}

// rfc3986 percent-encodes s keeping only the unreserved characters
// A–Z a–z 0–9 - . _ ~, with uppercase hex digits.
func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// CanonicalQuery is the message a signed URL signs: every parameter but
// signature, names and values percent-encoded per RFC 3986, pairs sorted by
// encoded name then encoded value, joined as name=value with &.
func CanonicalQuery(q url.Values) string {
	var pairs []string
	for name, values := range q {
		if name == "signature" {
			continue
		}
		for _, v := range values {
			pairs = append(pairs, rfc3986(name)+"="+rfc3986(v))
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		ni, vi, _ := strings.Cut(pairs[i], "=")
		nj, vj, _ := strings.Cut(pairs[j], "=")
		if ni != nj {
			return ni < nj
		}
		return vi < vj
	})
	return strings.Join(pairs, "&")
}

// Sign returns the signature of q: lowercase hex of HMAC-SHA256 keyed with
// the bytes of signingSecret over CanonicalQuery(q).
func Sign(signingSecret string, q url.Values) string {
	m := hmac.New(sha256.New, []byte(signingSecret))
	m.Write([]byte(CanonicalQuery(q)))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks the signature and expires parameters of a signed
// URL at now. It returns an invalid_signature *Error when either is missing,
// expires has passed, or the signature does not match (compared in
// constant time).
func VerifySignature(signingSecret string, q url.Values, now time.Time) error {
	sig, exp := q.Get("signature"), q.Get("expires")
	if sig == "" || exp == "" {
		return Errorf(CodeInvalidSignature, "A signed URL needs expires and signature.")
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return Errorf(CodeInvalidSignature, "expires must be unix seconds.")
	}
	if now.Unix() > unix {
		return Errorf(CodeInvalidSignature, "The signed URL expired at %d.", unix)
	}
	want := Sign(signingSecret, q)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
		return Errorf(CodeInvalidSignature, "The signature does not match the URL.")
	}
	return nil
}
