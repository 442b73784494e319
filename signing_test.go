package pageshot_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// The vectors of docs/signing.md, computed with Python's hmac and
// urllib.parse.quote(safe="-._~"), an implementation independent of ours.
var signingVectors = []struct {
	query, canonical, signature string
}{
	{
		"url=https%3A%2F%2Fexample.com%2F&format=png&access_key=key_abc&expires=1767225600",
		"access_key=key_abc&expires=1767225600&format=png&url=https%3A%2F%2Fexample.com%2F",
		"1380042aac9b27c53fc125d8f017ba508adfa1a6dde7211ff56743af891344d4",
	},
	{
		"url=https%3A%2F%2Fexample.com%2Fa+b%3Fx%3D1%26y%3D%C3%BC&hide_selectors=%23b&hide_selectors=%23a&full_page=true&access_key=key_abc&expires=1767225600&signature=ignored",
		"access_key=key_abc&expires=1767225600&full_page=true&hide_selectors=%23a&hide_selectors=%23b&url=https%3A%2F%2Fexample.com%2Fa%20b%3Fx%3D1%26y%3D%C3%BC",
		"25e9d79be7431facebf1676dfbecc47445ef70376a58585aa1079bf16ff2cad6",
	},
}

const vectorSecret = "sig_test_secret"

func TestSigningVectors(t *testing.T) {
	for _, v := range signingVectors {
		q, err := url.ParseQuery(v.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := pageshot.CanonicalQuery(q); got != v.canonical {
			t.Errorf("canonical query\n got %s\nwant %s", got, v.canonical)
		}
		if got := pageshot.Sign(vectorSecret, q); got != v.signature {
			t.Errorf("signature %s, want %s", got, v.signature)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	q, _ := url.ParseQuery(signingVectors[0].query)
	before := time.Unix(1767225600-10, 0)
	q.Set("signature", signingVectors[0].signature)
	if err := pageshot.VerifySignature(vectorSecret, q, before); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	for name, mutate := range map[string]func(url.Values){
		"changed parameter": func(q url.Values) { q.Set("format", "jpeg") },
		"added parameter":   func(q url.Values) { q.Set("full_page", "true") },
		"later expiry":      func(q url.Values) { q.Set("expires", "1767229200") },
		"no signature":      func(q url.Values) { q.Del("signature") },
		"no expiry":         func(q url.Values) { q.Del("expires") },
		"wrong signature":   func(q url.Values) { q.Set("signature", strings.Repeat("0", 64)) },
	} {
		m := url.Values{}
		for k, v := range q {
			m[k] = append([]string(nil), v...)
		}
		mutate(m)
		if pageshot.ErrorCode(pageshot.VerifySignature(vectorSecret, m, before)) != pageshot.CodeInvalidSignature {
			t.Errorf("%s: accepted", name)
		}
	}
	if pageshot.ErrorCode(pageshot.VerifySignature(vectorSecret, q, time.Unix(1767225601, 0))) != pageshot.CodeInvalidSignature {
		t.Error("an expired URL was accepted")
	}
}

func TestNewKey(t *testing.T) {
	k, key, err := pageshot.NewKey("ci", "default", []pageshot.Scope{pageshot.ScopeScreenshot}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := pageshot.ParseKey(key)
	if !ok || id != k.ID || !strings.HasPrefix(id, "key_") || !k.CheckSecret(secret) || k.CheckSecret(secret+"x") {
		t.Errorf("key %q → %q %q %v", key, id, secret, ok)
	}
	if strings.Contains(string(k.SecretHash), secret) || !strings.HasPrefix(k.WebhookSecret, "whsec_") {
		t.Errorf("secrets: %+v", k)
	}
	k2, key2, _ := pageshot.NewKey("ci", "default", nil, time.Now())
	if k2.ID == k.ID || key2 == key || k2.SigningSecret == k.SigningSecret {
		t.Error("two keys share secrets")
	}
}
