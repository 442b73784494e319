package blob

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/pageshot/pageshot"
)

// HotPrefix names the objects Hot keeps in memory: cached captures. Each
// is written once under a random name ("cache-" and 160 random bits) and
// never rewritten, so a copy read once stays right on every node for as
// long as the object exists; the cache index, read at each hit, decides
// whether it is still served.
const HotPrefix = "cache-"

// Hot returns s with an in-memory copy of the most recently read objects
// whose key starts with HotPrefix, up to maxBytes in all, so that a cache
// hit costs no read of the file (or S3 object). An object larger than an
// eighth of maxBytes is never kept. Put and Delete of a key drop its copy
// first. Other keys pass through untouched. maxBytes ≤ 0 returns s.
func Hot(s pageshot.BlobStore, maxBytes int64) pageshot.BlobStore {
	if maxBytes <= 0 {
		return s
	}
	return &hot{s: s, max: maxBytes, items: map[string]*list.Element{}, order: list.New()}
}

type hot struct {
	s   pageshot.BlobStore
	max int64

	mu    sync.Mutex
	size  int64
	items map[string]*list.Element // of *hotItem
	order *list.List               // most recently used first
}

type hotItem struct {
	key, contentType string
	data             []byte
}

func (h *hot) Get(ctx context.Context, key string) ([]byte, string, error) {
	if !strings.HasPrefix(key, HotPrefix) {
		return h.s.Get(ctx, key)
	}
	h.mu.Lock()
	if e, ok := h.items[key]; ok {
		h.order.MoveToFront(e)
		it := e.Value.(*hotItem)
		h.mu.Unlock()
		return it.data, it.contentType, nil
	}
	h.mu.Unlock()
	data, contentType, err := h.s.Get(ctx, key)
	if err != nil {
		return data, contentType, err
	}
	h.add(&hotItem{key: key, contentType: contentType, data: data})
	return data, contentType, nil
}

// add keeps it, dropping the least recently used copies to make room.
func (h *hot) add(it *hotItem) {
	n := int64(len(it.data))
	if n > h.max/8 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.items[it.key]; ok {
		return
	}
	h.items[it.key] = h.order.PushFront(it)
	h.size += n
	for h.size > h.max {
		h.remove(h.order.Back())
	}
}

func (h *hot) remove(e *list.Element) {
	it := h.order.Remove(e).(*hotItem)
	delete(h.items, it.key)
	h.size -= int64(len(it.data))
}

func (h *hot) drop(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.items[key]; ok {
		h.remove(e)
	}
}

func (h *hot) Put(ctx context.Context, key string, data []byte, contentType string) error {
	h.drop(key)
	return h.s.Put(ctx, key, data, contentType)
}

func (h *hot) Delete(ctx context.Context, key string) error {
	h.drop(key)
	return h.s.Delete(ctx, key)
}

func (h *hot) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return h.s.URL(ctx, key, ttl)
}
