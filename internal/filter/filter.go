// Package filter implements pageshot.RequestFilter with AdGuard's urlfilter
// engine over filter lists in the EasyList format: a small default list of
// ads and one of trackers ship in the binary (lists/), and an operator adds
// full lists (EasyList, EasyPrivacy) as files or URLs. URL lists are
// fetched again in the background; the last good copy of each is kept in
// the data dir, so a server starts with its lists even when their site is
// down.
package filter

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AdguardTeam/urlfilter"
	"github.com/AdguardTeam/urlfilter/filterlist"
	"github.com/AdguardTeam/urlfilter/rules"

	"github.com/pageshot/pageshot"
)

var (
	//go:embed lists/ads.txt
	defaultAds string
	//go:embed lists/trackers.txt
	defaultTrackers string
	//go:embed lists/chats.txt
	defaultChats string
	//go:embed lists/cookies.txt
	defaultCookies string
)

// Config names the lists added to the default lists.
type Config struct {
	// AdLists and TrackerLists are files or http(s) URLs of lists, added
	// to lists/ads.txt and lists/trackers.txt.
	AdLists, TrackerLists []string
	// DataDir keeps the last good copy of each URL list (in
	// DataDir/filter-lists). Empty keeps none.
	DataDir string
	// Client fetches URL lists. Defaults to a client with a 60 s timeout.
	Client *http.Client
	// Refresh is how often URL lists are fetched again. Defaults to 24
	// hours.
	Refresh time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Filter holds one engine per kind of list. A refresh swaps in new engines
// whole, so it is safe for concurrent use.
type Filter struct {
	cfg     Config
	log     *slog.Logger
	engines atomic.Pointer[map[pageshot.FilterList]*urlfilter.Engine]

	mu    sync.Mutex        // serialises refreshes
	texts map[string]string // the last good text of each URL list

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

var _ pageshot.RequestFilter = (*Filter)(nil)

// New reads the default lists and the lists of cfg and builds the
// engines. A file that cannot be read is an error. A URL list is taken from
// its last good copy when there is one, else fetched now; one that cannot
// be had is left out with a warning, and tried again at each refresh. With
// URL lists New starts the background refresh; Close stops it.
func New(cfg Config) (*Filter, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 24 * time.Hour
	}
	f := &Filter{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), texts: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	var urls []string
	for _, src := range slices.Concat(cfg.AdLists, cfg.TrackerLists) {
		if isURL(src) {
			urls = append(urls, src)
			if b, err := os.ReadFile(f.copyPath(src)); err == nil {
				f.texts[src] = string(b)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Client.Timeout)
	defer cancel()
	for _, u := range urls {
		if _, ok := f.texts[u]; !ok {
			f.fetch(ctx, u)
		}
	}
	if err := f.build(); err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		close(f.done)
		return f, nil
	}
	go f.refreshLoop()
	return f, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// copyPath is where the last good copy of the list at u is kept.
func (f *Filter) copyPath(u string) string {
	if f.cfg.DataDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(f.cfg.DataDir, "filter-lists", hex.EncodeToString(sum[:8])+".txt")
}

// fetch gets the list at u and, when it is good, keeps it (in memory and
// in the data dir). A failure keeps the previous copy and is logged.
func (f *Filter) fetch(ctx context.Context, u string) bool {
	text, err := f.download(ctx, u)
	if err != nil {
		f.log.Warn("filter list not updated; keeping the last good copy", "url", u, "err", err)
		return false
	}
	f.mu.Lock()
	f.texts[u] = text
	f.mu.Unlock()
	if p := f.copyPath(u); p != "" {
		if err := writeAtomic(p, []byte(text)); err != nil {
			f.log.Warn("keep a copy of a filter list", "url", u, "err", err)
		}
	}
	return true
}

func (f *Filter) download(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	res, err := f.cfg.Client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch filter list: HTTP status %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxListBytes+1))
	if err != nil {
		return "", fmt.Errorf("fetch filter list: %w", err)
	}
	if len(b) > maxListBytes {
		return "", fmt.Errorf("fetch filter list: larger than %d bytes", maxListBytes)
	}
	// A list that is not one (an error page served with 200) would drop
	// every rule: the header or a rule line is required.
	if !looksLikeList(string(b)) {
		return "", errors.New("fetch filter list: the answer is not a filter list")
	}
	return string(b), nil
}

// maxListBytes bounds one list (EasyList is about 2 MB).
const maxListBytes = 32 << 20

func looksLikeList(s string) bool {
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "!"):
			continue
		case strings.HasPrefix(line, "[Adblock"), strings.HasPrefix(line, "||"), strings.HasPrefix(line, "@@"), strings.Contains(line, "##"):
			return true
		case strings.HasPrefix(strings.ToLower(line), "<"):
			return false
		}
	}
	return false
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".list-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// build makes the engines from the default lists, the files and the good
// copies of the URL lists.
func (f *Filter) build() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	engines := map[pageshot.FilterList]*urlfilter.Engine{}
	for _, k := range []struct {
		list    pageshot.FilterList
		def     string
		sources []string
	}{
		{pageshot.FilterAds, defaultAds, f.cfg.AdLists},
		{pageshot.FilterTrackers, defaultTrackers, f.cfg.TrackerLists},
		{pageshot.FilterChats, defaultChats, nil},
		{pageshot.FilterCookies, defaultCookies, nil},
	} {
		texts := []string{k.def}
		for _, src := range k.sources {
			if isURL(src) {
				if t, ok := f.texts[src]; ok {
					texts = append(texts, t)
				}
				continue
			}
			b, err := os.ReadFile(src)
			if err != nil {
				return fmt.Errorf("read %s list: %w", k.list, err)
			}
			texts = append(texts, string(b))
		}
		var lists []filterlist.Interface
		for i, text := range texts {
			lists = append(lists, filterlist.NewString(&filterlist.StringConfig{ID: rules.ListID(i + 1), RulesText: text}))
		}
		storage, err := filterlist.NewRuleStorage(lists)
		if err != nil {
			return fmt.Errorf("load %s lists: %w", k.list, err)
		}
		engines[k.list] = urlfilter.NewEngine(storage)
	}
	f.engines.Store(&engines)
	return nil
}

// Refresh fetches every URL list again and, when one changed, rebuilds the
// engines. A list that cannot be fetched keeps its last good copy.
func (f *Filter) Refresh(ctx context.Context) error {
	changed := false
	for _, src := range slices.Concat(f.cfg.AdLists, f.cfg.TrackerLists) {
		if !isURL(src) {
			continue
		}
		f.mu.Lock()
		old := f.texts[src]
		f.mu.Unlock()
		if f.fetch(ctx, src) {
			f.mu.Lock()
			changed = changed || f.texts[src] != old
			f.mu.Unlock()
		}
	}
	if !changed {
		return nil
	}
	return f.build()
}

func (f *Filter) refreshLoop() {
	defer close(f.done)
	t := time.NewTicker(f.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), f.cfg.Client.Timeout*2)
			if err := f.Refresh(ctx); err != nil {
				f.log.Warn("rebuild filter lists", "err", err)
			}
			cancel()
		}
	}
}

// Close stops the background refresh and waits for it. It is safe to call
// more than once.
func (f *Filter) Close() {
	f.stopOnce.Do(func() { close(f.stop) })
	<-f.done
}

// requestTypes maps block_resources names to the engine's request types.
var requestTypes = map[string]rules.RequestType{
	"document":    rules.TypeDocument,
	"subdocument": rules.TypeSubdocument,
	"script":      rules.TypeScript,
	"stylesheet":  rules.TypeStylesheet,
	"image":       rules.TypeImage,
	"xhr":         rules.TypeXmlhttprequest,
	"fetch":       rules.TypeXmlhttprequest,
	"eventsource": rules.TypeXmlhttprequest,
	"media":       rules.TypeMedia,
	"font":        rules.TypeFont,
	"websocket":   rules.TypeWebsocket,
	"ping":        rules.TypePing,
}

// Blocks implements pageshot.RequestFilter. An exception rule (@@) of a list
// lets a request through that list only.
func (f *Filter) Blocks(lists []pageshot.FilterList, rawURL, pageURL, resourceType string) bool {
	typ, ok := requestTypes[resourceType]
	if !ok {
		typ = rules.TypeOther
	}
	engines := *f.engines.Load()
	for _, l := range lists {
		e := engines[l]
		if e == nil {
			continue
		}
		res := e.MatchRequest(rules.NewRequest(rawURL, pageURL, typ))
		if r := res.GetBasicResult(); r != nil && !r.Whitelist {
			return true
		}
	}
	return false
}

// HidingSelectors implements pageshot.RequestFilter: the generic and the
// site's own element hiding rules of lists.
func (f *Filter) HidingSelectors(lists []pageshot.FilterList, pageURL string) []string {
	host := ""
	if u, err := url.Parse(pageURL); err == nil {
		host = u.Hostname()
	}
	var out []string
	engines := *f.engines.Load()
	for _, l := range lists {
		e := engines[l]
		if e == nil {
			continue
		}
		res := e.GetCosmeticResult(host, rules.CosmeticOptionAll)
		out = append(out, res.ElementHiding.Generic...)
		out = append(out, res.ElementHiding.Specific...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
