package pageshot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// WebhookSignature returns the webhook-signature header value of a delivery
// by the Standard Webhooks convention: "v1," and the base64 HMAC-SHA256,
// keyed with the bytes that secret ("whsec_" and base64) encodes, of
// "id.timestamp.body". It fails only when secret is not of that form.
func WebhookSignature(secret, id, timestamp string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
