package filter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

func TestDefaultLists(t *testing.T) {
	f, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ads, trackers := []pageshot.FilterList{pageshot.FilterAds}, []pageshot.FilterList{pageshot.FilterTrackers}
	page := "https://news.example/article"
	for _, c := range []struct {
		lists    []pageshot.FilterList
		url, typ string
		blocked  bool
		what     string
	}{
		{ads, "https://securepubads.g.doubleclick.net/tag/js/gpt.js", "script", true, "ad network"},
		{ads, "https://pagead2.googlesyndication.com/pagead/js/adsbygoogle.js?client=ca-pub-1", "script", true, "ad script"},
		{ads, "http://127.0.0.1:8080/pagead/js/adsbygoogle.js", "script", true, "ad script on any host"},
		{ads, "https://news.example/static/app.js", "script", false, "the site's own script"},
		{ads, "https://www.google-analytics.com/analytics.js", "script", false, "a tracker is not an ad"},
		{trackers, "https://www.google-analytics.com/g/collect?v=2&tid=G-1", "ping", true, "analytics beacon"},
		{trackers, "https://www.googletagmanager.com/gtag/js?id=G-1", "script", true, "tag manager"},
		{trackers, "http://127.0.0.1:8080/collect?v=1&tid=UA-1", "image", true, "beacon on any host"},
		{trackers, "https://news.example/api/articles", "xhr", false, "the site's own API"},
		{append(ads, trackers...), "https://cdn.segment.com/analytics.js/v1/x/analytics.min.js", "script", true, "both lists"},
	} {
		if got := f.Blocks(c.lists, c.url, page, c.typ); got != c.blocked {
			t.Errorf("%s: Blocks(%s) = %v, want %v", c.what, c.url, got, c.blocked)
		}
	}
	sels := f.HidingSelectors(ads, page)
	for _, want := range []string{".adsbygoogle", `[id^="div-gpt-ad"]`} {
		if !slices.Contains(sels, want) {
			t.Errorf("hiding selectors %v lack %s", sels, want)
		}
	}
	if sels := f.HidingSelectors(trackers, page); len(sels) != 0 {
		t.Errorf("tracker list hides %v", sels)
	}
}

func TestChatList(t *testing.T) {
	f, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	chats := []pageshot.FilterList{pageshot.FilterChats}
	if !f.Blocks(chats, "https://client.crisp.chat/l.js", "https://shop.example/", "script") || !f.Blocks(chats, "https://widget.intercom.io/widget/abc", "https://shop.example/", "script") {
		t.Error("chat loaders not blocked")
	}
	if f.Blocks([]pageshot.FilterList{pageshot.FilterAds}, "https://client.crisp.chat/l.js", "https://shop.example/", "script") {
		t.Error("the ad list blocks a chat loader")
	}
	if !slices.Contains(f.HidingSelectors(chats, "https://shop.example/"), ".crisp-client") {
		t.Error("chat launchers not hidden")
	}
}

func TestCookieNoticeList(t *testing.T) {
	f, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sels := f.HidingSelectors([]pageshot.FilterList{pageshot.FilterCookies}, "https://blog.example/")
	for _, want := range []string{"#cookie-notice", "#onetrust-banner-sdk", ".cc-window.cc-banner"} {
		if !slices.Contains(sels, want) {
			t.Errorf("cookie notice list lacks %s: %v", want, sels)
		}
	}
	if f.Blocks([]pageshot.FilterList{pageshot.FilterCookies}, "https://cdn.cookielaw.org/scripttemplates/otSDKStub.js", "https://blog.example/", "script") {
		t.Error("the cookie notice list blocks requests; it only hides")
	}
}

func TestListFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "extra.txt")
	if err := os.WriteFile(path, []byte("||ads.example^\n@@||doubleclick.net/allowed/*\nnews.example##.promo-box\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := New(Config{AdLists: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	ads := []pageshot.FilterList{pageshot.FilterAds}
	if !f.Blocks(ads, "https://cdn.ads.example/x.js", "https://news.example/", "script") {
		t.Error("a rule of the added file does not block")
	}
	if f.Blocks(ads, "https://doubleclick.net/allowed/x.js", "https://news.example/", "script") {
		t.Error("an exception of the added file does not let through")
	}
	if !slices.Contains(f.HidingSelectors(ads, "https://news.example/a"), ".promo-box") || slices.Contains(f.HidingSelectors(ads, "https://other.example/"), ".promo-box") {
		t.Error("a site's own hiding rule applies elsewhere or not there")
	}
	if _, err := New(Config{TrackerLists: []string{filepath.Join(dir, "missing.txt")}}); err == nil {
		t.Error("a missing list file is accepted")
	}
}

func TestURLLists(t *testing.T) {
	var mu sync.Mutex
	status, body := 200, "[Adblock Plus 2.0]\n||ads-one.example^\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	serve := func(s int, b string) { mu.Lock(); status, body = s, b; mu.Unlock() }
	dir := t.TempDir()
	ads := []pageshot.FilterList{pageshot.FilterAds}
	blocks := func(f *Filter, host string) bool {
		return f.Blocks(ads, "https://"+host+"/x.js", "https://news.example/", "script")
	}

	f, err := New(Config{AdLists: []string{srv.URL + "/easylist.txt"}, DataDir: dir, Refresh: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !blocks(f, "ads-one.example") || !blocks(f, "doubleclick.net") {
		t.Fatal("the fetched list, or the built-in one, does not block")
	}

	serve(200, "||ads-two.example^\n")
	if err := f.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if blocks(f, "ads-one.example") || !blocks(f, "ads-two.example") {
		t.Error("the refreshed list is not the one in force")
	}
	serve(500, "down")
	_ = f.Refresh(context.Background())
	serve(200, "<!doctype html><title>Oops</title>")
	_ = f.Refresh(context.Background())
	if !blocks(f, "ads-two.example") {
		t.Error("a failed refresh dropped the last good list")
	}
	f.Close()
	f.Close()

	srv.Close() // the list's site is down: the next start uses the kept copy
	f, err = New(Config{AdLists: []string{srv.URL + "/easylist.txt"}, DataDir: dir, Client: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !blocks(f, "ads-two.example") {
		t.Error("the last good copy was not used at start")
	}
	f2, err := New(Config{AdLists: []string{srv.URL + "/easylist.txt"}, DataDir: t.TempDir(), Client: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatalf("a list that cannot be had stops the start: %v", err)
	}
	defer f2.Close()
	if blocks(f2, "ads-two.example") || !blocks(f2, "doubleclick.net") {
		t.Error("without the list the built-in one should stand alone")
	}
}
