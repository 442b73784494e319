package client

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// SignURL returns a signed GET /v1/screenshot URL of o for an <img src> on
// a public page: it carries the key's public id keyID, the expiry and the
// signature made with the key's signingSecret (docs/signing.md), never the
// key itself. The server refuses it with invalid_signature once expires has
// passed or if any parameter is changed.
func SignURL(baseURL, keyID, signingSecret string, o *Options, expires time.Time) (string, error) {
	q, err := Query(o)
	if err != nil {
		return "", err
	}
	if id, _, ok := strings.Cut(keyID, "."); ok {
		keyID = id // a whole key was given: only its public id may travel
	}
	q.Set("access_key", keyID)
	q.Set("expires", strconv.FormatInt(expires.Unix(), 10))
	q.Set("signature", pageshot.Sign(signingSecret, q))
	return strings.TrimSuffix(baseURL, "/") + "/v1/screenshot?" + q.Encode(), nil
}

// ErrWebhookSignature is returned by VerifyWebhook for a delivery that is
// not signed with the secret, or whose timestamp is too far from now.
var ErrWebhookSignature = errors.New("pageshot: webhook signature does not verify")

// WebhookTolerance is how far a webhook's timestamp may be from the
// receiver's clock, against replays.
const WebhookTolerance = 5 * time.Minute

// VerifyWebhook checks a webhook delivery by the Standard Webhooks
// convention (docs/webhooks.md): header's webhook-signature must hold a
// "v1," signature of webhook-id, webhook-timestamp and body made with
// secret (the key's webhook_secret, "whsec_…"), and the timestamp must be
// within WebhookTolerance of now. body is the raw body as received. It
// returns nil or an error wrapping ErrWebhookSignature.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) error {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are required", ErrWebhookSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not unix seconds", ErrWebhookSignature, ts)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("%w: timestamp %d is %s from now", ErrWebhookSignature, unix, d.Round(time.Second))
	}
	want, err := pageshot.WebhookSignature(secret, id, ts, body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(sigs) {
		if subtle.ConstantTimeCompare([]byte(s), []byte(want)) == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrWebhookSignature)
}
