package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// chromium is the browser executable both engines run.
type chromium struct {
	// path is the executable that is started.
	path string
	// launcher is the launcher script that path was found behind, if any.
	launcher string
	// version is what `path --version` prints, such as
	// "Chromium 156.0.8078.79".
	version string
}

// findChromium locates Chromium: the flag value, else PAGESHOT_CHROME_PATH,
// else chromium, chromium-browser or google-chrome on PATH (the order the
// pageshot server uses).
//
// Debian's /usr/bin/chromium is a shell script that adds flags of its own
// (--enable-gpu-rasterization, --disable-pings, extensions, …) before it
// execs /usr/lib/chromium/chromium. The baseline must run with exactly the
// flags that the report states, so findChromium looks through such a
// launcher and returns the binary it starts.
func findChromium(ctx context.Context, flagValue string) (chromium, error) {
	name := flagValue
	if name == "" {
		name = os.Getenv("PAGESHOT_CHROME_PATH")
	}
	var candidates []string
	if name != "" {
		candidates = []string{name}
	} else {
		candidates = []string{"chromium", "chromium-browser", "google-chrome"}
	}
	var c chromium
	for _, cand := range candidates {
		if p, err := exec.LookPath(cand); err == nil {
			c.path = p
			break
		}
	}
	if c.path == "" {
		return c, fmt.Errorf("find chromium: none of %s found; install it (apt-get install chromium) or set -chrome", strings.Join(candidates, ", "))
	}
	if bin, ok := launcherTarget(c.path); ok {
		c.launcher, c.path = c.path, bin
	}
	var err error
	if c.version, err = chromiumVersion(ctx, c.path); err != nil {
		return c, err
	}
	return c, nil
}

// launcherTarget returns the binary that the launcher script at path execs,
// when path is a launcher in the style of Debian's (it sets APPNAME= and
// LIBDIR= and runs $LIBDIR/$APPNAME). It returns false for anything else.
func launcherTarget(path string) (string, bool) {
	data, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(data, []byte("#!")) || len(data) > 1<<20 {
		return "", false
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, name := range []string{"APPNAME", "LIBDIR"} {
			if v, ok := strings.CutPrefix(line, name+"="); ok && vars[name] == "" {
				vars[name] = strings.Trim(v, `"'`)
			}
		}
	}
	app, dir := vars["APPNAME"], vars["LIBDIR"]
	if app == "" || dir == "" {
		return "", false
	}
	dir = strings.ReplaceAll(strings.ReplaceAll(dir, "${APPNAME}", app), "$APPNAME", app)
	bin := filepath.Join(dir, app)
	fi, err := os.Stat(bin)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", false
	}
	return bin, true
}

// chromiumVersion runs `path --version` and returns its first line.
func chromiumVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("read chromium version: %w", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line), nil
}
