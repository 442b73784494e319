package browser

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

func jsonValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// filterLists returns the lists block_ads and block_trackers ask for.
func (r *renderer) filterLists() []pageshot.FilterList {
	var lists []pageshot.FilterList
	if r.o.BlockAds {
		lists = append(lists, pageshot.FilterAds)
	}
	if r.o.BlockTrackers {
		lists = append(lists, pageshot.FilterTrackers)
	}
	if r.o.BlockChats {
		lists = append(lists, pageshot.FilterChats)
	}
	return lists
}

// cosmeticLists returns the lists whose element hiding rules apply: those
// of filterLists, and the cookie notice list with block_cookie_banners.
func (r *renderer) cosmeticLists() []pageshot.FilterList {
	lists := r.filterLists()
	if r.o.BlockCookieBanners {
		lists = append(lists, pageshot.FilterCookies)
	}
	return lists
}

// filterPatterns are the interception patterns the filter lists need:
// every request, when a list is asked for.
func (r *renderer) filterPatterns() []*fetch.RequestPattern {
	if len(r.filterLists()) == 0 {
		return nil
	}
	return []*fetch.RequestPattern{{URLPattern: "*", RequestStage: fetch.RequestStageRequest}}
}

// filterPaused decides a paused request by the filter lists: it fails a
// blocked one, lets through one that only the lists' pattern caught, and
// leaves to intercept (returning false) one that its own patterns caught
// too. The page's own document is never filtered.
func (r *renderer) filterPaused(ctx context.Context, ev *fetch.EventRequestPaused) bool {
	lists := r.filterLists()
	filter := r.t.inst.pool.cfg.Filter
	if len(lists) == 0 || filter == nil || ev.Request == nil {
		return false
	}
	main := ev.ResourceType == network.ResourceTypeDocument && ev.FrameID == r.mainFrame()
	if !main {
		typ := strings.ToLower(string(ev.ResourceType))
		if ev.ResourceType == network.ResourceTypeDocument {
			typ = "subdocument"
		}
		if filter.Blocks(lists, ev.Request.URL, r.pageURL(), typ) {
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
			return true
		}
	}
	ownPattern := (r.o.HTML != "" && ev.Request.URL == htmlURL) || (main && r.o.URLCheck != nil && r.o.URL != "") ||
		slices.ContainsFunc(r.o.BlockResources, func(rt string) bool { return resourceType(rt) == ev.ResourceType })
	if ownPattern {
		return false
	}
	_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
	return true
}

// pageURL is the address of the page requests are made from: the main
// frame's, after redirects.
func (r *renderer) pageURL() string {
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	if r.ev.current != "" {
		return r.ev.current
	}
	if r.o.HTML != "" {
		return htmlURL
	}
	return r.o.URL
}

// hideFiltered hides the elements the filter lists' cosmetic rules name
// (ad slots), as hide_selectors does.
func (r *renderer) hideFiltered(ctx context.Context) error {
	lists := r.cosmeticLists()
	filter := r.t.inst.pool.cfg.Filter
	if len(lists) == 0 || filter == nil {
		return nil
	}
	sels := filter.HidingSelectors(lists, r.pageURL())
	if len(sels) == 0 {
		return nil
	}
	// Each selector on its own: one the browser does not understand (an
	// extended one of another engine) must not void the others.
	_, err := eval[int](ctx, `(sels => { let n = 0; const css = [];
  for (const s of sels) { try { document.querySelectorAll(s); css.push(s + "{display:none!important}"); } catch (e) { continue; }
    for (const el of document.querySelectorAll(s)) { el.style.setProperty("display", "none", "important"); n++; } }
  const st = document.createElement("style"); st.textContent = css.join("\n"); (document.head || document.documentElement).appendChild(st);
  return n })(`+jsonValue(sels)+`)`)
	return err
}
