package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/pageshot/pageshot/internal/blob"
)

// The deployment files are checked against the CLI they configure: no
// image can be built in the tests, so every pageshot service of
// deploy/compose.yaml, and the Dockerfile's own command, goes through the
// real flag and PAGESHOT_* parsing of the commands, and the wiring between
// the files (the image, ports, health checks, the load balancer's nodes,
// the order of start) is checked here.

const deployDir = "../../deploy"

// composeFile is the part of a Compose file the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	// Entrypoint and Command in the list form: a string would be split by
	// a shell's rules, which the checks do not model.
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	Volumes     []string `yaml:"volumes"`
	Restart     string   `yaml:"restart"`
	SecurityOpt []string `yaml:"security_opt"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("parse compose.yaml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return f
}

// dockerStage is one FROM … stage of a Dockerfile: its base image, its
// name and its instructions, continuation lines joined.
type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

type dockerInstr struct{ cmd, args string }

// find returns the arguments of every cmd instruction of the stage.
func (s dockerStage) find(cmd string) []string {
	var out []string
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// parseDockerfile splits a Dockerfile into stages. It knows what the
// checks need: comments, continuation lines and FROM … AS name.
func parseDockerfile(t *testing.T, b []byte) []dockerStage {
	t.Helper()
	var stages []dockerStage
	var line strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && line.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(l, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(l)
		full := strings.TrimSpace(line.String())
		line.Reset()
		if full == "" {
			continue
		}
		cmd, args, _ := strings.Cut(full, " ")
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if cmd == "ARG" {
				continue
			}
			t.Fatalf("Dockerfile: %s before FROM", cmd)
		}
		st := &stages[len(stages)-1]
		st.instrs = append(st.instrs, dockerInstr{cmd, args})
	}
	return stages
}

// execForm parses the JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK
// CMD; the shell form is refused, as a shell would come between tini and
// pageshot and keep signals from reaching it.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Fatalf("Dockerfile %s %s: want the exec form [\"…\", …]: %v", what, args, err)
	}
	return out
}

// deployImage is what the checks read from deploy/Dockerfile.
type deployImage struct {
	stages     []dockerStage
	runtime    dockerStage
	entrypoint []string
	cmd        []string
	env        map[string]string
	installed  []string // Debian packages of the runtime stage
}

func loadImage(t *testing.T) deployImage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	im := deployImage{stages: parseDockerfile(t, b), env: map[string]string{}}
	if len(im.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a runtime stage", len(im.stages))
	}
	im.runtime = im.stages[len(im.stages)-1]
	if ep := im.runtime.find("ENTRYPOINT"); len(ep) > 0 {
		im.entrypoint = execForm(t, "ENTRYPOINT", ep[len(ep)-1])
	}
	if c := im.runtime.find("CMD"); len(c) > 0 {
		im.cmd = execForm(t, "CMD", c[len(c)-1])
	}
	for _, e := range im.runtime.find("ENV") {
		for _, kv := range strings.Fields(e) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Dockerfile ENV %s: want NAME=value", e)
			}
			im.env[k] = v
		}
	}
	for _, run := range im.runtime.find("RUN") {
		_, after, ok := strings.Cut(run, "apt-get install")
		if !ok {
			continue
		}
		after, _, _ = strings.Cut(after, "&&")
		for _, w := range strings.Fields(after) {
			if !strings.HasPrefix(w, "-") {
				im.installed = append(im.installed, w)
			}
		}
	}
	return im
}

// goVersion returns the go directive of go.mod.
func goVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	im := loadImage(t)
	build := im.stages[0]
	if want := "golang:" + goVersion(t) + "-"; !strings.HasPrefix(build.from, want) {
		t.Errorf("build stage FROM %s: want the official golang image of go.mod's version, %s…", build.from, want)
	}
	if !strings.HasPrefix(im.runtime.from, "debian:") {
		t.Errorf("runtime stage FROM %s: want a Debian image (Debian's chromium-headless-shell)", im.runtime.from)
	}
	for _, p := range []string{"chromium-headless-shell", "fonts-noto-core", "fonts-noto-cjk", "fonts-noto-color-emoji", "ca-certificates", "tini"} {
		if !slices.Contains(im.installed, p) {
			t.Errorf("runtime stage does not install %s (installs %v)", p, im.installed)
		}
	}

	users := im.runtime.find("USER")
	if len(users) == 0 {
		t.Fatal("runtime stage has no USER: it would run as root")
	}
	if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("runtime stage USER %s: want an unprivileged user", users[len(users)-1])
	}

	// tini is PID 1 and runs pageshot itself, no shell between them.
	ep := im.entrypoint
	if len(ep) < 3 || path.Base(ep[0]) != "tini" || ep[1] != "--" || path.Base(ep[len(ep)-1]) != "pageshot" {
		t.Fatalf("ENTRYPOINT %q: want [\".../tini\", \"--\", \".../pageshot\"]", ep)
	}
	copied := false
	for _, c := range im.runtime.find("COPY") {
		f := strings.Fields(c)
		if len(f) == 3 && f[0] == "--from="+build.name && f[2] == ep[len(ep)-1] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("runtime stage does not COPY --from=%s the binary to %s", build.name, ep[len(ep)-1])
	}

	dataDir := im.env["PAGESHOT_DATA_DIR"]
	if dataDir == "" || !slices.Contains(im.runtime.find("VOLUME"), dataDir) {
		t.Errorf("the data dir (ENV PAGESHOT_DATA_DIR=%q) is not a VOLUME (%q)", dataDir, im.runtime.find("VOLUME"))
	}

	// The default command is serve, reachable from outside the container
	// on the port the image exposes, and checked there by HEALTHCHECK.
	fs := parseCommand(t, im.cmd, im.env)
	if fs.cmd != "serve" {
		t.Fatalf("CMD %q: want serve", im.cmd)
	}
	port := listenPort(t, "CMD", fs.flags.Lookup("addr").Value.String())
	if !slices.Contains(strings.Fields(strings.Join(im.runtime.find("EXPOSE"), " ")), port) {
		t.Errorf("EXPOSE %q does not include serve's port %s", im.runtime.find("EXPOSE"), port)
	}
	hc := im.runtime.find("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("runtime stage has %d HEALTHCHECK, want 1", len(hc))
	}
	_, probe, ok := strings.Cut(hc[0], " CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: want … CMD [\"…\"]", hc[0])
	}
	checkProbe(t, "HEALTHCHECK", execForm(t, "HEALTHCHECK CMD", probe), port, im.installed)
}

// parsedCommand is a pageshot command line after the CLI's own parsing.
type parsedCommand struct {
	cmd   string // serve, worker, …
	flags *pflag.FlagSet
}

// parseCommand runs args (pageshot's arguments, without the program name)
// and env through the CLI's parsing — the command's flags, then the
// PAGESHOT_* variables as bindEnv reads them — without running the
// command. It fails the test on an unknown command, flag or variable and
// on a value the flag refuses.
func parseCommand(t *testing.T, args []string, env map[string]string) parsedCommand {
	t.Helper()
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Fatalf("pageshot %q: not a pageshot command (%v)", args, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("pageshot %q: %v", args, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("pageshot %q: %v", args, err)
	}
	// Only the given environment: none of this process's PAGESHOT_*.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PAGESHOT_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		name, ok := strings.CutPrefix(k, "PAGESHOT_")
		if !ok {
			continue
		}
		flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if cmd.Flags().Lookup(flag) == nil {
			t.Errorf("pageshot %s: %s names no flag (--%s)", cmd.Name(), k, flag)
		}
		t.Setenv(k, v)
	}
	if err := bindEnv(cmd.Flags()); err != nil {
		t.Errorf("pageshot %s: %v", cmd.Name(), err)
	}
	return parsedCommand{cmd: cmd.Name(), flags: cmd.Flags()}
}

// listenPort returns the port of a listen address, which must take
// connections from other containers (every interface).
func listenPort(t *testing.T, who, addr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: listen address %q: %v", who, addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s: listens on %s: other containers cannot reach it; want 0.0.0.0:%s", who, addr, port)
	}
	return port
}

// checkProbe checks a health check command: a tool the image has, asking
// /healthz on the node's port.
func checkProbe(t *testing.T, who string, test []string, port string, installed []string) {
	t.Helper()
	if len(test) == 0 {
		t.Fatalf("%s: empty health check", who)
	}
	if !slices.Contains(installed, path.Base(test[0])) {
		t.Errorf("%s: health check runs %s, which the image does not install (%v)", who, test[0], installed)
	}
	want := "http://127.0.0.1:" + port + "/healthz"
	if !slices.Contains(test, want) {
		t.Errorf("%s: health check %q does not ask %s", who, test, want)
	}
}

// composeNode is a pageshot service of the compose file.
type composeNode struct {
	service string
	svc     composeService
	parsedCommand
	port string // its API or admin port
}

func (n composeNode) flag(name string) string { return n.flags.Lookup(name).Value.String() }

func TestCompose(t *testing.T) {
	f := loadCompose(t)
	im := loadImage(t)
	dockerfile, err := filepath.Abs(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}

	var nodes []composeNode
	for _, name := range slices.Sorted(maps.Keys(f.Services)) {
		svc := f.Services[name]
		if svc.Build == nil {
			if strings.HasPrefix(svc.Image, "pageshot") {
				t.Errorf("%s: image %s without build: pageshot services build deploy/Dockerfile", name, svc.Image)
			}
			continue
		}
		df, _ := filepath.Abs(filepath.Join(deployDir, svc.Build.Context, svc.Build.Dockerfile))
		if df != dockerfile {
			t.Errorf("%s: builds %s, want deploy/Dockerfile", name, df)
			continue
		}
		if svc.Entrypoint != nil {
			t.Errorf("%s: entrypoint %q replaces the image's tini and pageshot", name, svc.Entrypoint)
		}
		checkSeccomp(t, name, svc.SecurityOpt)
		args := orDefault(svc.Command, im.cmd)
		env := map[string]string{}
		for k, v := range im.env {
			env[k] = v
		}
		for k, v := range svc.Environment {
			env[k] = v
		}
		for _, s := range append(slices.Clone(args), slices.Collect(maps.Values(svc.Environment))...) {
			if strings.Contains(s, "$") {
				t.Errorf("%s: %q: Compose would interpolate the $", name, s)
			}
		}
		var n composeNode
		t.Run(name, func(t *testing.T) {
			n = composeNode{service: name, svc: svc, parsedCommand: parseCommand(t, args, env)}
		})
		if n.flags == nil {
			continue
		}
		switch n.cmd {
		case "serve":
			n.port = listenPort(t, name, n.flag("addr"))
		case "worker":
			if !n.flags.Changed("admin-addr") {
				t.Errorf("%s: a worker without --admin-addr listens on 127.0.0.1:9090, out of reach of its health check", name)
			}
			n.port = listenPort(t, name, n.flag("admin-addr"))
		default:
			t.Errorf("%s: pageshot %s is not a node (serve or worker)", name, n.cmd)
			continue
		}
		if svc.Healthcheck == nil || len(svc.Healthcheck.Test) < 2 || svc.Healthcheck.Test[0] != "CMD" {
			t.Errorf("%s: want a healthcheck [\"CMD\", …] (the image's asks serve's port)", name)
		} else {
			checkProbe(t, name, svc.Healthcheck.Test[1:], n.port, im.installed)
		}
		nodes = append(nodes, n)
	}

	serves, workers, runJobs := 0, 0, 0
	for _, n := range nodes {
		switch {
		case n.cmd == "worker":
			workers++
			runJobs++
		case n.flag("jobs") == "true":
			serves++
			runJobs++
		default:
			serves++
		}
	}
	if serves < 2 || workers < 1 {
		t.Errorf("%d serve and %d worker nodes: want at least two serve nodes and a worker", serves, workers)
	}
	if runJobs == 0 {
		t.Error("no node runs job items: every serve node has --jobs=false and there is no worker")
	}

	for _, n := range nodes {
		checkShared(t, f, n)
		if n.flag("egress-allow") != "[]" {
			t.Errorf("%s: --egress-allow %s: the deployment lets no private address through by default", n.service, n.flag("egress-allow"))
		}
		// Nodes of one deployment share every shared part and tell clients
		// the same addresses.
		for _, flag := range []string{"database-url", "redis-url", "redis-prefix", "storage-url", "storage-endpoint", "storage-path-style", "storage-access-key", "storage-secret-key", "storage-public-url", "public-url"} {
			if a, b := n.flag(flag), nodes[0].flag(flag); a != b {
				t.Errorf("--%s: %s has %q, %s has %q: every node must share it", flag, n.service, a, nodes[0].service, b)
			}
		}
	}

	checkDependencies(t, f)
	checkLoadBalancer(t, f, nodes)
}

// checkSeccomp checks that a pageshot container may create the user
// namespaces of Chromium's sandbox, which Docker's default seccomp profile
// refuses: no profile (unconfined), or a profile of the deployment's own.
func checkSeccomp(t *testing.T, name string, opts []string) {
	t.Helper()
	for _, o := range opts {
		v, ok := strings.CutPrefix(o, "seccomp=")
		if !ok {
			v, ok = strings.CutPrefix(o, "seccomp:")
		}
		switch {
		case !ok:
		case v == "unconfined":
			return
		case v != "builtin":
			if _, err := os.Stat(filepath.Join(deployDir, v)); err != nil {
				t.Errorf("%s: seccomp profile: %v", name, err)
			}
			return
		}
	}
	t.Errorf("%s: security_opt %q: under Docker's default seccomp profile Chromium cannot start its sandbox (see docs/scaling.md)", name, opts)
}

// checkShared checks that a node uses PostgreSQL, Redis and S3-compatible
// storage, with values their clients accept, and starts after each.
func checkShared(t *testing.T, f composeFile, n composeNode) {
	t.Helper()
	needs := map[string]string{} // service → the setting that names it
	if db := n.flag("database-url"); db == "" {
		t.Errorf("%s: no --database-url: each node would keep its own SQLite store", n.service)
	} else if cfg, err := pgxpool.ParseConfig(db); err != nil {
		t.Errorf("%s: --database-url: %v", n.service, err)
	} else {
		needs[cfg.ConnConfig.Host] = "--database-url"
	}
	if r := n.flag("redis-url"); r == "" {
		t.Errorf("%s: no --redis-url: each node would keep its own limits", n.service)
	} else if opts, err := goredis.ParseURL(r); err != nil {
		t.Errorf("%s: --redis-url: %v", n.service, err)
	} else {
		host, _, _ := net.SplitHostPort(opts.Addr)
		needs[host] = "--redis-url"
	}
	s3 := blob.S3Config{
		URL:       n.flag("storage-url"),
		Endpoint:  n.flag("storage-endpoint"),
		Region:    n.flag("storage-region"),
		AccessKey: n.flag("storage-access-key"),
		SecretKey: n.flag("storage-secret-key"),
		PathStyle: n.flag("storage-path-style") == "true",
		PublicURL: n.flag("storage-public-url"),
	}
	if s3.URL == "" {
		t.Errorf("%s: no --storage-url: with several nodes each would keep captures in its own files", n.service)
	} else if _, err := blob.NewS3(s3); err != nil {
		t.Errorf("%s: storage: %v", n.service, err)
	} else {
		endpoint := cmp.Or(s3.Endpoint, "s3.amazonaws.com")
		if !strings.Contains(endpoint, "://") {
			endpoint = "https://" + endpoint
		}
		if u, err := url.Parse(endpoint); err == nil {
			needs[u.Hostname()] = "--storage-endpoint"
		}
	}
	// Links of stored captures served by the nodes themselves must reach
	// their /v1/objects/{id} route: an object's key is its id, so the
	// bucket holds no prefix.
	if pub, api := s3.PublicURL, n.flag("public-url"); pub != "" && api != "" && strings.HasPrefix(pub, api) {
		if u, _ := url.Parse(s3.URL); pub != strings.TrimSuffix(api, "/")+"/v1/objects" || strings.Trim(u.Path, "/") != "" {
			t.Errorf("%s: --storage-public-url %s on the API's address: want %s/v1/objects over the bucket's root", n.service, pub, strings.TrimSuffix(api, "/"))
		}
	}
	for host, setting := range needs {
		if _, ok := f.Services[host]; !ok {
			t.Errorf("%s: %s names %s, which is no service", n.service, setting, host)
			continue
		}
		if n.svc.DependsOn[host].Condition != "service_healthy" {
			t.Errorf("%s: does not wait for %s (%s) to be healthy", n.service, host, setting)
		}
	}
}

// checkDependencies checks that every service has a health check, except
// one-shot set-up jobs that the others wait to complete, and that every
// depends_on waits on something that can be reached.
func checkDependencies(t *testing.T, f composeFile) {
	t.Helper()
	oneShot := map[string]bool{}
	for name, svc := range f.Services {
		for dep, d := range svc.DependsOn {
			target, ok := f.Services[dep]
			switch {
			case !ok:
				t.Errorf("%s depends on %s, which is no service", name, dep)
			case d.Condition == "service_healthy":
				if target.Healthcheck == nil || target.Healthcheck.Disable || len(target.Healthcheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			case d.Condition == "service_completed_successfully":
				if target.Restart != "no" {
					t.Errorf("%s waits for %s to complete, which restarts (%q)", name, dep, target.Restart)
				}
				oneShot[dep] = true
			default:
				t.Errorf("%s depends on %s with condition %q: want service_healthy or service_completed_successfully", name, dep, d.Condition)
			}
		}
	}
	for name, svc := range f.Services {
		if !oneShot[name] && (svc.Healthcheck == nil || svc.Healthcheck.Disable || len(svc.Healthcheck.Test) == 0) {
			t.Errorf("%s: no healthcheck", name)
		}
	}
}

// checkLoadBalancer checks that one service balances over exactly the serve
// nodes, on their ports, with their readiness, and starts after them; and
// that what it answers itself is a problem document.
func checkLoadBalancer(t *testing.T, f composeFile, nodes []composeNode) {
	t.Helper()
	cfgPath := filepath.Join(deployDir, "haproxy", "haproxy.cfg")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var lbs []string
	for name, svc := range f.Services {
		for _, v := range svc.Volumes {
			if strings.HasPrefix(v, "./haproxy:") {
				lbs = append(lbs, name)
			}
		}
	}
	if len(lbs) != 1 {
		t.Fatalf("services mounting ./haproxy: %v, want one load balancer", lbs)
	}
	lb := f.Services[lbs[0]]

	servers := map[string]string{} // host → port
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+(\S+)\s+(\S+)`).FindAllStringSubmatch(string(b), -1) {
		host, port, err := net.SplitHostPort(m[2])
		if err != nil {
			t.Errorf("haproxy.cfg: server %s %s: %v", m[1], m[2], err)
			continue
		}
		servers[host] = port
	}
	serving := map[string]bool{}
	for _, n := range nodes {
		if n.cmd != "serve" {
			continue
		}
		serving[n.service] = true
		if port, ok := servers[n.service]; !ok {
			t.Errorf("haproxy.cfg does not name serve node %s", n.service)
		} else if port != n.port {
			t.Errorf("haproxy.cfg sends to %s:%s, which listens on %s", n.service, port, n.port)
		}
		if lb.DependsOn[n.service].Condition != "service_healthy" {
			t.Errorf("%s does not wait for %s to be healthy", lbs[0], n.service)
		}
	}
	for host := range servers {
		if !serving[host] {
			t.Errorf("haproxy.cfg sends requests to %s, which is no serve node", host)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*http-check send meth GET uri /readyz\s*$`).Match(b) {
		t.Error("haproxy.cfg does not check the nodes' /readyz")
	}

	errorfiles := regexp.MustCompile(`(?m)^\s*errorfile\s+(\d+)\s+/usr/local/etc/haproxy/(\S+)`).FindAllStringSubmatch(string(b), -1)
	if len(errorfiles) == 0 {
		t.Error("haproxy.cfg: no errorfile: the load balancer's own 503 would not be a problem document")
	}
	for _, m := range errorfiles {
		checkErrorfile(t, filepath.Join(deployDir, "haproxy", m[2]))
	}
}

// checkErrorfile checks an HTTP answer of the load balancer: a
// service_unavailable problem document with Retry-After, as pageshot
// answers when it cannot take a request.
func checkErrorfile(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s: body shorter than its Content-Length: %v", file, err)
	}
	var p struct {
		Type, Code string
		Status     int
		Retryable  bool
		RetryAfter int `json:"retry_after"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: body: %v", file, err)
	}
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusServiceUnavailable || p.Status != resp.StatusCode || p.Code != "service_unavailable" ||
		p.Type != "/docs/errors#service_unavailable" || !p.Retryable || ra < 1 || p.RetryAfter != ra ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: %d %v %+v: want a 503 service_unavailable problem document with Retry-After", file, resp.StatusCode, resp.Header, p)
	}
}

func orDefault[T any](a, b []T) []T {
	if len(a) > 0 {
		return a
	}
	return b
}
