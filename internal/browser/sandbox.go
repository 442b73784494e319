package browser

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"

	"github.com/chromedp/chromedp"
)

// DefaultUser is the account Chromium runs as when pageshot runs as root
// (scripts/setup.sh creates it).
const DefaultUser = "pageshot-chrome"

// Sandbox says how the browser is contained.
type Sandbox struct {
	// On tells that Chromium runs its own sandbox: its renderers live in
	// their own user and PID namespaces under a seccomp filter, so a
	// hostile page that takes over a renderer reaches neither the files
	// nor the processes of the machine.
	On bool
	// User is the account the browser runs as.
	User string
	// Reason says why the sandbox is off; empty when it is on.
	Reason string
}

func (s Sandbox) String() string {
	if s.On {
		return "on (user " + s.User + ")"
	}
	return "off (user " + s.User + "): " + s.Reason
}

// box is how one browser process is started: as whom, with which profile
// directory, with or without the sandbox.
type box struct {
	state Sandbox
	cred  *syscall.Credential // nil: as this process's user
	dir   string              // the profile (user data) directory, removed with the browser
}

// plan decides how the next browser starts. As root, Chromium runs as
// cfg.User: the sandbox refuses to run as root, and without it a renderer
// exploit would hold root. The sandbox is on unless the configuration turns
// it off (Flags "no-sandbox") or the user is missing.
func (p *Pool) plan() (*box, error) {
	b := &box{state: Sandbox{On: true}}
	if v, ok := p.cfg.Flags["no-sandbox"]; ok && v != false {
		b.state = Sandbox{Reason: "turned off by the no-sandbox browser flag"}
	}
	me, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	b.state.User = me.Username
	if os.Geteuid() == 0 {
		name := p.cfg.User
		u, err := user.Lookup(name)
		switch {
		case name == "":
			b.state = Sandbox{User: me.Username, Reason: "pageshot runs as root and no browser user is configured; Chromium's sandbox cannot run as root"}
		case err != nil:
			b.state = Sandbox{User: me.Username, Reason: fmt.Sprintf("pageshot runs as root and the browser user %q does not exist (scripts/setup.sh creates it); Chromium's sandbox cannot run as root", name)}
		default:
			uid, _ := strconv.ParseUint(u.Uid, 10, 32)
			gid, _ := strconv.ParseUint(u.Gid, 10, 32)
			b.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
			b.state.User = u.Username
		}
	}
	b.dir, err = os.MkdirTemp("", "pageshot-chrome-")
	if err != nil {
		return nil, fmt.Errorf("create profile dir: %w", err)
	}
	if b.cred != nil {
		if err := os.Chown(b.dir, int(b.cred.Uid), int(b.cred.Gid)); err != nil {
			os.RemoveAll(b.dir)
			return nil, fmt.Errorf("give profile dir to %s: %w", b.state.User, err)
		}
	}
	return b, nil
}

// withoutSandbox returns b with the sandbox off for reason, keeping its
// user and directory.
func (b *box) withoutSandbox(reason string) *box {
	c := *b
	c.state.On, c.state.Reason = false, reason
	return &c
}

// apply sets the switches and allocator options of b.
func (b *box) apply(flags map[string]any, opts []chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	flags["user-data-dir"] = b.dir
	if b.state.On {
		delete(flags, "no-sandbox")
		// An explicit false keeps chromedp from adding --no-sandbox
		// because this process is root.
		opts = append(opts, chromedp.Flag("no-sandbox", false))
	} else {
		flags["no-sandbox"] = true
	}
	opts = append(opts, chromedp.Env("HOME="+b.dir))
	cred := b.cred
	return append(opts, chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
		// What chromedp does by default, which ModifyCmdFunc replaces:
		// the browser dies with the thread that started it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	}))
}

// Sandbox reports how the current browser is contained.
func (p *Pool) Sandbox() Sandbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return Sandbox{Reason: "no browser"}
	}
	return p.cur.box.state
}
