// Package browser runs Chromium for pageshot: one warm browser process, a
// bounded pool of capture slots, a fresh browser context for every capture,
// and restarts when the browser crashes or has served enough captures. It
// implements pageshot.Renderer.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// ErrNoChrome is returned when no Chromium executable can be found.
var ErrNoChrome = errors.New("no Chromium found: install it (Debian/Ubuntu: apt-get install chromium) or set PAGESHOT_CHROME_PATH to its path")

// FindChrome returns the browser executable to use: PAGESHOT_CHROME_PATH
// when set, else the first on PATH of chromium-headless-shell (the
// headless-only build, about three times faster per capture than the full
// browser in headless mode), chromium, chromium-browser, google-chrome and
// google-chrome-stable. A distribution's launcher script is resolved to the
// binary behind it. It returns ErrNoChrome when there is none.
func FindChrome() (string, error) {
	if p := os.Getenv("PAGESHOT_CHROME_PATH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PAGESHOT_CHROME_PATH: %w", err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return unwrap(p), nil
		}
	}
	return "", ErrNoChrome
}

// libDirs are where Debian and Ubuntu keep the binaries that their /usr/bin
// launcher scripts start.
var libDirs = []string{"/usr/lib/chromium", "/usr/lib/chromium-browser"}

// unwrap returns the binary behind a launcher script. Debian's script for
// chromium adds flags of its own (GPU rasterization, extensions) that a
// headless server does not want.
func unwrap(path string) string {
	head := make([]byte, 2)
	f, err := os.Open(path)
	if err != nil {
		return path
	}
	defer f.Close()
	if n, _ := f.Read(head); n < 2 || string(head) != "#!" {
		return path
	}
	for _, dir := range libDirs {
		p := filepath.Join(dir, filepath.Base(path))
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return path
}

// ChromeVersion runs path --version and returns what it prints, such as
// "Chromium 156.0.8078.73".
func ChromeVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// flags are the command-line switches of every browser pageshot starts
// (the sandbox's, user-data-dir and the proxy's are set per launch). The
// background-networking switches keep Chromium from calling home; the
// webrtc switch keeps UDP from going around a proxy. The window has the
// default viewport's size, so that a capture of it needs no emulation
// (see window).
var flags = map[string]any{
	"headless":                               true,
	"window-size":                            fmt.Sprintf("%d,%d", pageshot.DefaultViewportWidth, pageshot.DefaultViewportHeight),
	"disable-gpu":                            true,
	"disable-quic":                           true,
	"no-first-run":                           true,
	"no-default-browser-check":               true,
	"disable-background-networking":          true,
	"disable-component-update":               true,
	"disable-sync":                           true,
	"disable-dev-shm-usage":                  true,
	"hide-scrollbars":                        true,
	"mute-audio":                             true,
	"disable-extensions":                     true,
	"disable-default-apps":                   true,
	"disable-breakpad":                       true,
	"disable-crash-reporter":                 true,
	"disable-domain-reliability":             true,
	"disable-client-side-phishing-detection": true,
	"disable-features":                       "Translate,MediaRouter,OptimizationHints,InterestFeedContentSuggestions,CalculateNativeWinOcclusion,AutofillServerCommunication",
	"metrics-recording-only":                 true,
	"password-store":                         "basic",
	"use-mock-keychain":                      true,
	"force-webrtc-ip-handling-policy":        "disable_non_proxied_udp",
	"webrtc-ip-handling-policy":              "disable_non_proxied_udp",
	"block-new-web-contents":                 true,
	"deny-permission-prompts":                true,
	"disable-renderer-backgrounding":         true,
	"disable-background-timer-throttling":    true,
	"disable-backgrounding-occluded-windows": true,
	"disable-ipc-flooding-protection":        true,
	// navigator.webdriver stays false, as in a browser a person uses.
	"disable-blink-features": "AutomationControlled",
}
