package browser

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DuckDuckGo's autoconsent (MPL-2.0, see js/autoconsent/README): its bundle
// for pages driven over a browser protocol, and its consent rules.
var (
	//go:embed js/autoconsent/autoconsent.playwright.js
	autoconsentJS string
	//go:embed js/autoconsent/compact-rules.json
	autoconsentRules json.RawMessage
)

// consentBinding is the function through which autoconsent's script talks
// to pageshot.
const consentBinding = "pageshotAutoconsent"

// consentPrelude connects the bundle's outgoing messages to the binding;
// the bundle expects window.autoconsentSendMessage to exist when it runs.
const consentPrelude = `window.autoconsentSendMessage = m => { try { window.` + consentBinding + `(JSON.stringify(m)) } catch (e) {} return Promise.resolve() };`

// consentConfig is autoconsent's configuration: reject consent where a
// consent platform is recognised, hide banners it knows only by their look
// (cosmetic and generated rules, heuristics), and pre-hide known banners
// while it works.
var consentConfig = map[string]any{
	"enabled":                     true,
	"autoAction":                  "optOut",
	"disabledCmps":                []string{},
	"enablePrehide":               true,
	"enableCosmeticRules":         true,
	"enableGeneratedRules":        true,
	"detectRetries":               20,
	"isMainWorld":                 true,
	"prehideTimeout":              2000,
	"enableHeuristicDetection":    true,
	"enablePopupMutationObserver": false,
	"heuristicMode":               "tier2",
	"visualTest":                  false,
	"performanceLoggingEnabled":   false,
	"heuristicPopupSearchTimeout": 2000,
	"logs": map[string]bool{
		"lifecycle": false, "rulesteps": false, "detectionsteps": false, "evals": false,
		"errors": false, "messages": false, "waits": false,
	},
}

// The bounds of the wait for autoconsent. A page where it finds nothing
// waits consentSearch at most; one where it found a consent platform waits
// for the rejection up to consentAct.
const (
	consentSearch = 1500 * time.Millisecond
	consentAct    = 8 * time.Second
)

// consent follows autoconsent's work in the main frame.
type consent struct {
	mu        sync.Mutex
	lifecycle string // the main frame's last reported lifecycle state
	attempts  int    // its detection passes so far
	cmp       string // the consent platform found, if any
	changed   chan struct{}
}

type consentMessage struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Code      string          `json:"code"`
	CMP       string          `json:"cmp"`
	MainFrame bool            `json:"mainFrame"`
	Result    json.RawMessage `json:"result"`
	State     struct {
		Lifecycle       string `json:"lifecycle"`
		FindCmpAttempts int    `json:"findCmpAttempts"`
	} `json:"state"`
}

// startConsent installs autoconsent in every frame the capture will load
// and answers its messages. It runs before navigation, when
// block_cookie_banners is set.
func (r *renderer) startConsent(ctx context.Context) error {
	r.consent = &consent{changed: make(chan struct{}, 1)}
	if err := chromedp.Listen(ctx, func(ev any) {
		if b, ok := ev.(*runtime.EventBindingCalled); ok && b.Name == consentBinding {
			go r.consentMessage(ctx, b)
		}
	}); err != nil {
		return err
	}
	if _, err := chromedp.Call(ctx, runtime.AddBinding, runtime.AddBindingParams{Name: consentBinding}); err != nil {
		return fmt.Errorf("add consent binding: %w", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: consentPrelude + "\n" + autoconsentJS}); err != nil {
		return fmt.Errorf("add consent script: %w", err)
	}
	return nil
}

// consentMessage answers one message of autoconsent, in the frame it came
// from.
func (r *renderer) consentMessage(ctx context.Context, b *runtime.EventBindingCalled) {
	var m consentMessage
	if err := json.Unmarshal([]byte(b.Payload), &m); err != nil {
		return
	}
	reply := func(msg any) {
		js, err := json.Marshal(msg)
		if err != nil {
			return
		}
		_, _ = chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{
			Expression: "window.autoconsentReceiveMessage && window.autoconsentReceiveMessage(" + string(js) + ")",
			ContextID:  b.ExecutionContextID, Silent: new(true),
		})
	}
	c := r.consent
	switch m.Type {
	case "init":
		reply(map[string]any{"type": "initResp", "config": consentConfig, "rules": map[string]json.RawMessage{"compact": autoconsentRules}})
	case "eval":
		res, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{
			Expression: m.Code, ContextID: b.ExecutionContextID, ReturnByValue: new(true), AwaitPromise: new(true), Silent: new(true),
		})
		var result json.RawMessage = []byte("false")
		if err == nil && res.ExceptionDetails == nil && res.Result != nil && len(res.Result.Value) > 0 {
			result = json.RawMessage(res.Result.Value)
		}
		reply(map[string]any{"type": "evalResp", "id": m.ID, "result": result})
	case "report":
		if !m.MainFrame {
			return
		}
		c.mu.Lock()
		c.lifecycle, c.attempts = m.State.Lifecycle, m.State.FindCmpAttempts
		c.mu.Unlock()
		c.signal()
	case "cmpDetected", "popupFound":
		c.mu.Lock()
		c.cmp = m.CMP
		c.mu.Unlock()
		c.signal()
	}
}

func (c *consent) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// done tells whether autoconsent is done with the main frame: it rejected
// consent (or failed to), or searched without finding a consent platform
// for consentSearch after started. It also returns the state and the
// platform found, for the logs.
func (c *consent) done(started time.Time) (bool, string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.lifecycle {
	case "nothingDetected", "optOutSucceeded", "optOutFailed", "optInSucceeded", "optInFailed", "done":
		return true, c.lifecycle, c.cmp
	case "cmpDetected", "openPopupDetected", "runningOptOut", "runningOptIn":
		return time.Since(started) >= consentAct, c.lifecycle, c.cmp
	}
	return time.Since(started) >= consentSearch && c.cmp == "", c.lifecycle, c.cmp
}

// waitConsent waits, bounded, for autoconsent to finish with the page, so
// that the capture shows the page after consent was rejected.
func (r *renderer) waitConsent(ctx context.Context) error {
	if r.consent == nil {
		return nil
	}
	started := time.Now()
	deadline := started.Add(consentAct)
	if dl, ok := ctx.Deadline(); ok {
		deadline = minTime(deadline, dl.Add(-min(passReserve, r.o.Timeout/3)))
	}
	for {
		done, state, cmp := r.consent.done(started)
		if done || !time.Now().Before(deadline) {
			r.t.inst.pool.log.Debug("cookie consent", "state", state, "cmp", cmp, "waited", time.Since(started))
			return nil
		}
		select {
		case <-r.consent.changed:
		case <-time.After(pollEvery):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
