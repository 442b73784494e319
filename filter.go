package pageshot

// FilterList names a kind of filter list.
type FilterList string

// The filter lists of block_ads, block_trackers and block_chats.
const (
	FilterAds      FilterList = "ads"
	FilterTrackers FilterList = "trackers"
	FilterChats    FilterList = "chats"
	// FilterCookies hides cookie notices for block_cookie_banners.
	FilterCookies FilterList = "cookies"
)

// RequestFilter decides what block_ads, block_trackers and block_chats
// take out of a capture, from filter lists in the EasyList format (network and cosmetic
// rules). It is safe for concurrent use.
type RequestFilter interface {
	// Blocks reports whether lists block a request for url, of
	// resourceType (a block_resources name such as "script", "image" or
	// "xhr", or "subdocument" for a frame), made by the page at pageURL.
	Blocks(lists []FilterList, url, pageURL, resourceType string) bool
	// HidingSelectors returns the CSS selectors of the elements lists hide
	// on the page at pageURL.
	HidingSelectors(lists []FilterList, pageURL string) []string
}
