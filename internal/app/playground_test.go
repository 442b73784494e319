package app_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	_ "image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/browser"
)

// TestPlayground drives the playground page in a real Chromium: a local
// page captured and shown, the key kept in session storage only, the curl
// command and the signed URL it shows both working, and a blocked URL shown
// as its problem document.
func TestPlayground(t *testing.T) {
	s := sharedServer(t)
	tg := newTarget(t)
	k, key := s.newKey(t, pageshot.DefaultPlanName, nil)

	chrome, err := browser.FindChrome()
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	target := tg.URL + "/"
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("go")),
		chromedp.SendKeys(chromedp.ID("url"), target),
		chromedp.SendKeys(chromedp.ID("viewport_width"), "400"),
		chromedp.SendKeys(chromedp.ID("viewport_height"), "300"),
		chromedp.SendKeys(chromedp.ID("key"), key),
		chromedp.SendKeys(chromedp.ID("signing_secret"), k.SigningSecret),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-state="done"] #shot`)),
	)
	if err != nil {
		t.Fatal(err)
	}

	// The image shown is the capture: read its pixels in the page.
	type pixels struct {
		W, H      int
		Red, Blue []int
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[pixels](`(() => {
		const img = document.getElementById("shot"), c = document.createElement("canvas");
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const g = c.getContext("2d"); g.drawImage(img, 0, 0);
		const px = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data);
		return {w: img.naturalWidth, h: img.naturalHeight, red: px(10, 10), blue: px(150, 75)};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	rgba := func(p []int) color.RGBA { return color.RGBA{uint8(p[0]), uint8(p[1]), uint8(p[2]), uint8(p[3])} }
	if shown.W != 400 || shown.H != 300 || !near(rgba(shown.Red), color.RGBA{0xcc, 0, 0, 255}, 8) || !near(rgba(shown.Blue), color.RGBA{0, 0, 0xff, 255}, 8) {
		t.Errorf("the page shows %+v, want a 400×300 red page with a blue box", shown)
	}

	// The credentials are in session storage, nowhere else.
	type stored struct {
		Key, Secret string
		Local       int
		Cookie      string
	}
	storage, err := chromedp.Run(ctx, chromedp.Evaluate[stored](`({key: sessionStorage.getItem("pageshot.key"), secret: sessionStorage.getItem("pageshot.signing_secret"), local: localStorage.length, cookie: document.cookie})`))
	if err != nil {
		t.Fatal(err)
	}
	if storage.Key != key || storage.Secret != k.SigningSecret || storage.Local != 0 || storage.Cookie != "" {
		t.Errorf("storage: session key %t, secret %t; %d local items; cookie %q", storage.Key == key, storage.Secret == k.SigningSecret, storage.Local, storage.Cookie)
	}

	// The signed URL it shows loads without the key.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("signed").textContent.startsWith("http")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	signed, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("signed")))
	if err != nil {
		t.Fatal(err)
	}
	curl, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("curl")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(signed, key) || !strings.Contains(signed, "access_key="+k.ID) {
		t.Errorf("signed URL %s", signed)
	}
	res, err := http.Get(strings.TrimSpace(signed))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wantBlue(t, "the signed URL", body)

	// The curl command it shows makes the same capture.
	if _, err := exec.LookPath("curl"); err == nil {
		dir := t.TempDir()
		cmd := exec.CommandContext(ctx, "sh", "-c", curl)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PAGESHOT_KEY="+key)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", curl, err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "screenshot.png"))
		if err != nil {
			t.Fatal(err)
		}
		wantBlue(t, "the curl command", b)
	}

	if strings.Contains(curl, key) || !strings.Contains(curl, `"viewport_width":400`) {
		t.Errorf("curl command %s", curl)
	}

	// HTML instead of a URL.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("mode-html")),
		chromedp.SendKeys(chromedp.ID("html"), `<body style="margin:0;background:#00ff00"></body>`),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-state="done"] #shot`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	green, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => {
		const img = document.getElementById("shot"), c = document.createElement("canvas");
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const g = c.getContext("2d"); g.drawImage(img, 0, 0);
		return Array.from(g.getImageData(200, 150, 1, 1).data);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !near(rgba(green), color.RGBA{0, 0xff, 0, 255}, 8) {
		t.Errorf("the HTML capture shows %v, want green", green)
	}

	// A blocked URL shows its problem document.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("mode-url")),
		chromedp.Evaluate[chromedp.Void](`void (document.getElementById("url").value = "")`),
		chromedp.SendKeys(chromedp.ID("url"), "http://10.1.2.3/"),
		chromedp.Click(chromedp.ID("go")),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-state="error"] pre.problem`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	result, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("result")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"code": "url_blocked"`, `"status": 403`, `"retryable": false`, `"reason"`} {
		if !strings.Contains(result, want) {
			t.Errorf("the page shows %q, want %s", result, want)
		}
	}
}

// wantBlue checks that b is the 400×300 capture of the target page.
func wantBlue(t *testing.T, what string, b []byte) {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v: %.200s", what, err, b)
	}
	if !near(img.At(150, 75), color.RGBA{0, 0, 0xff, 255}, 8) || img.Bounds().Dx() != 400 {
		t.Errorf("%s: %v, pixel %v", what, img.Bounds(), img.At(150, 75))
	}
}
