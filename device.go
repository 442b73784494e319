package pageshot

import "strings"

// Device is a preset of the device option: what a capture emulates to look
// like that device. Viewport sizes, scales and user agents follow Chrome
// DevTools' list of emulated devices; the iPhone 15 and Pixel 8, which that
// list lacks, take their makers' published CSS sizes.
type Device struct {
	Name        string  `json:"name"`         // the value of the device option
	Title       string  `json:"title"`        // what people call it
	Width       int     `json:"width"`        // viewport width, CSS pixels (portrait)
	Height      int     `json:"height"`       // viewport height, CSS pixels
	ScaleFactor float64 `json:"scale_factor"` // device pixels per CSS pixel
	Mobile      bool    `json:"mobile"`       // meta viewport, overlay scrollbars, text autosizing, mobile client hints
	Touch       bool    `json:"touch"`        // touch events and pointer: coarse
	// UserAgent is sent and shown to the page; empty keeps the browser's
	// own (desktop presets).
	UserAgent string `json:"user_agent,omitempty"`
}

// Platform is the client-hint platform of the device's user agent: "iOS",
// "Android", "Windows" or "" for the browser's own.
func (d Device) Platform() string {
	switch {
	case containsAny(d.UserAgent, "iPhone", "iPad"):
		return "iOS"
	case containsAny(d.UserAgent, "Android"):
		return "Android"
	case containsAny(d.UserAgent, "Windows"):
		return "Windows"
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

const (
	uaIOS16 = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
	uaIOS17 = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	uaIPad  = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)

func uaAndroid(version, model string) string {
	return "Mozilla/5.0 (Linux; Android " + version + "; " + model + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
}

func uaAndroidTablet(version, model string) string {
	return "Mozilla/5.0 (Linux; Android " + version + "; " + model + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
}

// Devices are the presets of the device option, phones first, then
// tablets, then desktops.
var Devices = []Device{
	{Name: "iphone_se", Title: "iPhone SE", Width: 375, Height: 667, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: uaIOS16},
	{Name: "iphone_xr", Title: "iPhone XR", Width: 414, Height: 896, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: uaIOS16},
	{Name: "iphone_12_pro", Title: "iPhone 12 Pro", Width: 390, Height: 844, ScaleFactor: 3, Mobile: true, Touch: true, UserAgent: uaIOS16},
	{Name: "iphone_14_pro_max", Title: "iPhone 14 Pro Max", Width: 430, Height: 932, ScaleFactor: 3, Mobile: true, Touch: true, UserAgent: uaIOS16},
	{Name: "iphone_15", Title: "iPhone 15", Width: 393, Height: 852, ScaleFactor: 3, Mobile: true, Touch: true, UserAgent: uaIOS17},
	{Name: "iphone_15_pro_max", Title: "iPhone 15 Pro Max", Width: 430, Height: 932, ScaleFactor: 3, Mobile: true, Touch: true, UserAgent: uaIOS17},
	{Name: "pixel_7", Title: "Pixel 7", Width: 412, Height: 915, ScaleFactor: 2.625, Mobile: true, Touch: true, UserAgent: uaAndroid("13", "Pixel 7")},
	{Name: "pixel_8", Title: "Pixel 8", Width: 412, Height: 915, ScaleFactor: 2.625, Mobile: true, Touch: true, UserAgent: uaAndroid("14", "Pixel 8")},
	{Name: "galaxy_s8_plus", Title: "Samsung Galaxy S8+", Width: 360, Height: 740, ScaleFactor: 4, Mobile: true, Touch: true, UserAgent: uaAndroid("8.0.0", "SM-G955U")},
	{Name: "galaxy_s20_ultra", Title: "Samsung Galaxy S20 Ultra", Width: 412, Height: 915, ScaleFactor: 3.5, Mobile: true, Touch: true, UserAgent: uaAndroid("13", "SM-G981B")},
	{Name: "galaxy_z_fold_5", Title: "Samsung Galaxy Z Fold 5", Width: 344, Height: 882, ScaleFactor: 2.625, Mobile: true, Touch: true, UserAgent: uaAndroid("13", "SM-F946B")},
	{Name: "ipad_mini", Title: "iPad Mini", Width: 768, Height: 1024, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: uaIPad},
	{Name: "ipad", Title: "iPad Air", Width: 820, Height: 1180, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: uaIPad},
	{Name: "ipad_pro", Title: "iPad Pro", Width: 1024, Height: 1366, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: uaIPad},
	{Name: "galaxy_tab_s4", Title: "Samsung Galaxy Tab S4", Width: 712, Height: 1138, ScaleFactor: 2.25, Mobile: true, Touch: true, UserAgent: uaAndroidTablet("8.1.0", "SM-T837A")},
	{Name: "surface_pro_7", Title: "Surface Pro 7", Width: 912, Height: 1368, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
	{Name: "nest_hub", Title: "Nest Hub", Width: 1024, Height: 600, ScaleFactor: 2, Mobile: true, Touch: true, UserAgent: "Mozilla/5.0 (Linux; Android) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 CrKey/1.54.248666"},
	{Name: "laptop", Title: "Laptop", Width: 1366, Height: 768, ScaleFactor: 1},
	{Name: "laptop_hidpi", Title: "Laptop with HiDPI screen", Width: 1440, Height: 900, ScaleFactor: 2},
	{Name: "desktop", Title: "Desktop", Width: 1280, Height: 800, ScaleFactor: 1},
	{Name: "desktop_hd", Title: "Desktop HD", Width: 1920, Height: 1080, ScaleFactor: 1},
	{Name: "desktop_qhd", Title: "Desktop QHD", Width: 2560, Height: 1440, ScaleFactor: 1},
}

// DeviceByName returns the preset called name.
func DeviceByName(name string) (Device, bool) {
	for _, d := range Devices {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}
