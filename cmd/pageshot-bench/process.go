package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the server's life.
const (
	serverStartTimeout = 90 * time.Second // until the "listening on" line
	serverStopTimeout  = 30 * time.Second // from SIGTERM until exit
)

// listenMarker precedes the server's address in the line that says it is
// ready, in plain text or inside a JSON or logfmt log line.
const listenMarker = "listening on http://"

// serverProcess is a running `pageshot serve`.
type serverProcess struct {
	// baseURL is the server's root, such as http://127.0.0.1:41234.
	baseURL string

	cmd     *exec.Cmd
	out     *outputLog
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // cmd.Wait's result, valid once exited is closed
}

// startServer starts bin with args, plus extraEnv, and waits until one of
// its output lines announces the address it listens on. Everything the
// process prints is kept (the last lines) for error messages, and copied to
// echo when echo is not nil.
func startServer(ctx context.Context, bin string, args, extraEnv []string, echo io.Writer) (*serverProcess, error) {
	addrs := make(chan string, 1)
	out := &outputLog{echo: echo, onLine: func(line string) {
		if a, ok := listenAddress(line); ok {
			select {
			case addrs <- a:
			default:
			}
		}
	}}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cmd.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // a grandchild that keeps our pipes open must not hang Wait
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pageshot: %w", err)
	}
	p := &serverProcess{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	var err error
	select {
	case a := <-addrs:
		p.baseURL = "http://" + a
		return p, nil
	case <-p.exited:
		err = fmt.Errorf("pageshot exited before it listened: %v", p.waitErr)
	case <-timer.C:
		err = fmt.Errorf("pageshot printed no %q line within %v", listenMarker, serverStartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.Stop()
	return nil, fmt.Errorf("%w\n%s", err, out.tail())
}

// Stop sends SIGTERM, waits for the process to exit, and kills it when it
// has not exited after serverStopTimeout. It returns an error when the
// process did not exit with status 0 after SIGTERM. Safe to call twice.
func (p *serverProcess) Stop() error {
	select {
	case <-p.exited:
		return p.exitError()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop pageshot: %w", err)
	}
	select {
	case <-p.exited:
		return p.exitError()
	case <-time.After(serverStopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("stop pageshot: still running %v after SIGTERM, killed", serverStopTimeout)
	}
}

// exitError describes an exit with another status than 0.
func (p *serverProcess) exitError() error {
	if p.waitErr != nil {
		return fmt.Errorf("pageshot exited: %w", p.waitErr)
	}
	return nil
}

// listenAddress extracts ADDR from a line containing "listening on
// http://ADDR". ADDR ends at white space, a quote, a backslash (an escaped
// quote in JSON) or a comma; it must be a host and a port other than 0.
func listenAddress(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, listenMarker)
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(rest, " \t\r\n\"'`\\,;"); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimRight(rest, "/.)]}>")
	u, err := url.Parse("http://" + rest)
	if err != nil || u.Hostname() == "" || u.Port() == "" || u.Port() == "0" || u.Path != "" {
		return "", false
	}
	return u.Host, true
}

// outputLog collects a process's output line by line: it keeps the last
// lines and hands each line to onLine. It is an io.Writer safe for the two
// goroutines of os/exec that copy stdout and stderr.
type outputLog struct {
	echo   io.Writer
	onLine func(line string)

	mu      sync.Mutex
	partial []byte
	last    []string
}

// Limits of what outputLog keeps.
const (
	outputTailLines = 40      // lines shown in error messages
	maxLineLength   = 1 << 16 // bytes kept of an unfinished line
)

// Write implements io.Writer.
func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.echo != nil {
		o.echo.Write(p)
	}
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		o.last = append(o.last, line)
		if len(o.last) > outputTailLines {
			o.last = o.last[len(o.last)-outputTailLines:]
		}
		o.onLine(line)
	}
	if len(o.partial) > maxLineLength { // a line without end must not grow for ever
		o.partial = o.partial[len(o.partial)-maxLineLength:]
	}
	return len(p), nil
}

// tail returns the last lines of output, indented, for an error message.
func (o *outputLog) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append(slices.Clone(o.last), string(o.partial))
	var b strings.Builder
	b.WriteString("pageshot output (last lines):\n")
	for _, l := range lines {
		if l != "" {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}
