package jobs_test

import (
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/jobs"
)

// TestSignWebhook checks the signature against the example of the
// Standard Webhooks specification, also published in docs/webhooks.md.
func TestSignWebhook(t *testing.T) {
	got, err := jobs.SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if _, err := jobs.SignWebhook("whsec_not base64!", "id", time.Now(), nil); err == nil {
		t.Error("a malformed secret was accepted")
	}
}
