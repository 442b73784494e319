package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// fakeResolver answers from a map of names to addresses. A missing name is
// NXDOMAIN; "timeout.example.com" times out.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" || host != strings.ToLower(host) || strings.HasSuffix(host, ".") {
		return nil, fmt.Errorf("fake resolver: unexpected lookup %s %q", network, host)
	}
	if host == "timeout.example.com" {
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	answers, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var addrs []netip.Addr
	for _, a := range answers {
		addrs = append(addrs, netip.MustParseAddr(a))
	}
	return addrs, nil
}

var testDNS = fakeResolver{
	"public.example.com":       {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
	"internal.example.com":     {"10.0.0.5"},
	"intranet.example.com":     {"192.168.1.1"},
	"loop.example.com":         {"127.0.0.1"},
	"mixed.example.com":        {"93.184.216.34", "127.0.0.1"},
	"meta.example.com":         {"169.254.169.254"},
	"mapped.example.com":       {"::ffff:127.0.0.1"},
	"mappedpublic.example.com": {"::ffff:93.184.216.34"},
	"nat64.example.com":        {"64:ff9b::a00:1"},
	"ula.example.com":          {"2606:2800:220:1::1", "fd12:3456::1"},
	"empty.example.com":        {},
	"localhost":                {"127.0.0.1", "::1"},
	"app.localhost":            {"127.0.0.1"},
	"printer.local":            {"93.184.216.34"},
}

func newTestPolicy(t *testing.T, allow ...string) *Policy {
	t.Helper()
	p, err := NewPolicy(Config{Allow: allow, Resolver: testDNS})
	if err != nil {
		t.Fatalf("NewPolicy(%q): %v", allow, err)
	}
	return p
}

// checkErr fails t unless err is an *pageshot.Error with code and reason
// ("" for no error).
func checkErr(t *testing.T, err error, code pageshot.Code, reason string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("got %v; want no error", err)
		}
		return
	}
	var pe *pageshot.Error
	if !errors.As(err, &pe) {
		t.Fatalf("got %v (%T); want a *pageshot.Error with code %s", err, err, code)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("got code %s reason %q (%v); want code %s reason %q", pe.Code, pe.Reason, err, code, reason)
	}
	if pe.Message == "" {
		t.Errorf("error %v has no message", err)
	}
}

type urlCase struct {
	url    string
	code   pageshot.Code
	reason string
}

func runURLCases(t *testing.T, p *Policy, tests []urlCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatalf("parse URL: %v", err)
			}
			checkErr(t, p.CheckURL(context.Background(), u), tt.code, tt.reason)
		})
	}
}

const (
	blocked    = pageshot.CodeURLBlocked
	unresolved = pageshot.CodeNameNotResolved
)

func TestCheckURL(t *testing.T) {
	runURLCases(t, newTestPolicy(t), []urlCase{
		{"https://public.example.com/", "", ""},
		{"http://public.example.com:8080/path?q=1#f", "", ""},
		{"HTTP://PUBLIC.EXAMPLE.COM./", "", ""},
		{"http://mappedpublic.example.com/", "", ""},
		{"http://8.8.8.8/", "", ""},
		{"http://[2606:4700:4700::1111]:443/", "", ""},

		// Schemes.
		{"file:///etc/passwd", blocked, ReasonScheme},
		{"file://localhost/etc/passwd", blocked, ReasonScheme},
		{"chrome://settings", blocked, ReasonScheme},
		{"view-source:http://public.example.com/", blocked, ReasonScheme},
		{"javascript:alert(1)", blocked, ReasonScheme},
		{"data:text/html,<h1>hi</h1>", blocked, ReasonScheme},
		{"about:blank", blocked, ReasonScheme},
		{"ftp://public.example.com/", blocked, ReasonScheme},
		{"ws://public.example.com/", blocked, ReasonScheme},
		{"wss://public.example.com/", blocked, ReasonScheme},
		{"gopher://public.example.com/", blocked, ReasonScheme},
		{"//public.example.com/", blocked, ReasonScheme},

		// Missing or malformed hosts.
		{"http:///path", blocked, ReasonInvalidHost},
		{"http:public.example.com", blocked, ReasonInvalidHost},
		{"http://1.2.3.256/", blocked, ReasonInvalidHost},
		{"http://example.0x1/", blocked, ReasonInvalidHost},

		// IP literals, in every spelling.
		{"http://127.0.0.1/", blocked, ClassLoopback},
		{"http://127.0.0.1./", blocked, ClassLoopback},
		{"http://127.1/", blocked, ClassLoopback},
		{"http://127.0.1/", blocked, ClassLoopback},
		{"http://2130706433/", blocked, ClassLoopback},
		{"http://0x7f000001/", blocked, ClassLoopback},
		{"http://0X7F.1/", blocked, ClassLoopback},
		{"http://017700000001/", blocked, ClassLoopback},
		{"http://0177.0.0.1/", blocked, ClassLoopback},
		{"http://0/", blocked, ClassUnspecified},
		{"http://0.0.0.0:8080/", blocked, ClassUnspecified},
		{"http://user:pass@10.0.0.1/", blocked, ClassPrivate},
		{"http://192.168.0.1/", blocked, ClassPrivate},
		{"http://172.16.5.4/", blocked, ClassPrivate},
		{"http://100.64.0.1/", blocked, ClassCGNAT},
		{"http://169.254.169.254/latest/meta-data/", blocked, ClassMetadata},
		{"http://0xa9fea9fe/", blocked, ClassMetadata},
		{"http://169.254.43518/", blocked, ClassMetadata},
		{"http://100.100.100.200/", blocked, ClassMetadata},
		{"http://169.254.1.1/", blocked, ClassLinkLocal},
		{"http://224.0.0.1/", blocked, ClassMulticast},
		{"http://255.255.255.255/", blocked, ClassBroadcast},
		{"http://240.0.0.1/", blocked, ClassReserved},
		{"http://198.18.0.1/", blocked, ClassBenchmark},
		{"http://192.0.2.1/", blocked, ClassDocumentation},
		{"http://[::1]/", blocked, ClassLoopback},
		{"http://[0:0:0:0:0:0:0:1]:80/", blocked, ClassLoopback},
		{"http://[::]/", blocked, ClassUnspecified},
		{"http://[::ffff:127.0.0.1]/", blocked, ClassIPv4Mapped},
		{"http://[::ffff:7f00:1]/", blocked, ClassIPv4Mapped},
		{"http://[0:0:0:0:0:ffff:127.0.0.1]/", blocked, ClassIPv4Mapped},
		{"http://[::ffff:a9fe:a9fe]/", blocked, ClassIPv4Mapped},
		{"http://[::127.0.0.1]/", blocked, ClassIPv4Compatible},
		{"http://[fd00:ec2::254]/", blocked, ClassMetadata},
		{"http://[FD00:EC2::254]/", blocked, ClassMetadata},
		{"http://[fd12:3456::1]/", blocked, ClassUniqueLocal},
		{"http://[fe80::1%25eth0]/", blocked, ClassLinkLocal},
		{"http://[fec0::1]/", blocked, ClassSiteLocal},
		{"http://[ff02::1]/", blocked, ClassMulticast},
		{"http://[64:ff9b::7f00:1]/", blocked, ClassNAT64},
		{"http://[64:ff9b:1::a9fe:a9fe]/", blocked, ClassNAT64},
		{"http://[2002:7f00:1::]/", blocked, Class6to4},
		{"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", blocked, ClassTeredo},
		{"http://[100::1]/", blocked, ClassDiscard},
		{"http://[2001:db8::1]/", blocked, ClassDocumentation},
		{"http://[2001:20::1]/", blocked, ClassORCHID},

		// Reserved names, whatever they resolve to.
		{"http://localhost/", blocked, ReasonReservedName},
		{"http://LOCALHOST/", blocked, ReasonReservedName},
		{"http://localhost./", blocked, ReasonReservedName},
		{"http://localhost:8080/", blocked, ReasonReservedName},
		{"http://foo.localhost/", blocked, ReasonReservedName},
		{"http://printer.local/", blocked, ReasonReservedName},
		{"http://metadata.google.internal/computeMetadata/v1/", blocked, ReasonReservedName},
		{"http://host.localdomain/", blocked, ReasonReservedName},
		{"http://nas.home.arpa/", blocked, ReasonReservedName},
		{"http://router.lan/", blocked, ReasonReservedName},
		{"http://wiki.intranet/", blocked, ReasonReservedName},
		{"http://db.corp/", blocked, ReasonReservedName},
		{"http://vault.private/", blocked, ReasonReservedName},
		{"http://intranet/", blocked, ReasonReservedName},
		{"http://intranet./", blocked, ReasonReservedName},

		// Names that resolve to addresses that are not public.
		{"http://internal.example.com/", blocked, ClassPrivate},
		{"http://loop.example.com/", blocked, ClassLoopback},
		{"http://mixed.example.com/", blocked, ClassLoopback},
		{"http://meta.example.com/", blocked, ClassMetadata},
		{"http://mapped.example.com/", blocked, ClassLoopback},
		{"http://nat64.example.com/", blocked, ClassNAT64},
		{"http://ula.example.com/", blocked, ClassUniqueLocal},

		// Names that do not resolve.
		{"http://nx.example.com/", unresolved, ""},
		{"http://empty.example.com/", unresolved, ""},
		{"http://nonexistent.invalid/", unresolved, ""},
		{"http://foo.test/", unresolved, ""},
		{"http://www.example/", unresolved, ""},
		{"http://timeout.example.com/", pageshot.CodeConnectionFailed, ""},
	})
}

func TestCheckURLMessages(t *testing.T) {
	p := newTestPolicy(t)
	tests := []struct{ url, want string }{
		{"http://10.0.0.1/", `The host "10.0.0.1" is a private address.`},
		{"http://0x7f.1/", `The host "0x7f.1" (127.0.0.1) is a loopback address.`},
		{"http://[::ffff:127.0.0.1]/", `The host "::ffff:127.0.0.1" is an IPv4-mapped IPv6 address.`},
		{"http://internal.example.com/", `The host "internal.example.com" resolves to a private address.`},
		{"http://LocalHost/", `The host "LocalHost" is a reserved name.`},
		{"file:///etc/passwd", `The scheme "file" is not allowed; only http and https are.`},
		{"http://nx.example.com/", `The host "nx.example.com" could not be resolved.`},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = p.CheckURL(context.Background(), u)
			if got := pageshot.AsError(err).Message; got != tt.want {
				t.Errorf("message = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	t.Run("CIDR", func(t *testing.T) {
		runURLCases(t, newTestPolicy(t, "127.0.0.1/32"), []urlCase{
			{"http://127.0.0.1:8080/", "", ""},
			{"http://127.1/", "", ""},
			{"http://0x7f000001/", "", ""},
			{"http://loop.example.com/", "", ""},
			{"http://mixed.example.com/", "", ""},
			{"http://mapped.example.com/", "", ""},
			{"http://127.0.0.2/", blocked, ClassLoopback},
			{"http://[::1]/", blocked, ClassLoopback},
			// An IPv4 entry does not cover the IPv4-mapped spelling.
			{"http://[::ffff:127.0.0.1]/", blocked, ClassIPv4Mapped},
			// An allowed address does not make a reserved name reachable.
			{"http://localhost/", blocked, ReasonReservedName},
			{"http://app.localhost/", blocked, ReasonReservedName},
			{"http://internal.example.com/", blocked, ClassPrivate},
		})
	})
	t.Run("name", func(t *testing.T) {
		runURLCases(t, newTestPolicy(t, "localhost"), []urlCase{
			{"http://localhost:8080/", "", ""},
			{"http://LOCALHOST./", "", ""},
			{"http://app.localhost/", blocked, ReasonReservedName},
			// Allowing a name does not allow its addresses under other names.
			{"http://127.0.0.1/", blocked, ClassLoopback},
			{"http://loop.example.com/", blocked, ClassLoopback},
		})
	})
	t.Run("mixed", func(t *testing.T) {
		p := newTestPolicy(t, "*.localhost", " ::1 ", "10.0.0.0/8", "Intranet.Example.COM.", "printer.local")
		runURLCases(t, p, []urlCase{
			{"http://app.localhost/", "", ""},
			{"http://localhost/", blocked, ReasonReservedName},
			{"http://[::1]/", "", ""},
			{"http://10.1.2.3/", "", ""},
			{"http://012.1/", "", ""},
			{"http://internal.example.com/", "", ""},
			{"http://intranet.example.com/", "", ""},
			{"http://printer.local/", "", ""},
			{"http://sub.intranet.example.com/", unresolved, ""},
			{"http://192.168.1.1/", blocked, ClassPrivate},
		})
	})
	t.Run("zone", func(t *testing.T) {
		runURLCases(t, newTestPolicy(t, "fe80::/10"), []urlCase{
			{"http://[fe80::1%25eth0]/", "", ""},
		})
	})
}

func TestNewPolicy(t *testing.T) {
	for _, entry := range []string{
		"127.0.0.1/32", "::1/128", "10.1.2.3/8", "127.0.0.1", "::1", "[::1]",
		"fe80::1%eth0", "localhost", "LocalHost.", "*.example.com", "intranet",
		"my_host.example.com", " 192.168.0.0/16 ",
	} {
		t.Run("valid "+entry, func(t *testing.T) {
			if _, err := NewPolicy(Config{Allow: []string{entry}}); err != nil {
				t.Errorf("NewPolicy(%q): %v", entry, err)
			}
		})
	}
	for _, entry := range []string{
		"", " ", "10.0.0.0/33", "10.0.0.0/", "localhost/32", "http://localhost",
		"1.2.3.256", "*", "*.", "*.1.2.3.4", "a.*.example.com", "**.example.com",
		"exa mple.com", "mün chen.de", "[::1", "host!.example.com",
	} {
		t.Run(fmt.Sprintf("invalid %q", entry), func(t *testing.T) {
			_, err := NewPolicy(Config{Allow: []string{"127.0.0.1/32", entry}})
			if err == nil {
				t.Fatalf("NewPolicy(%q) succeeded; want an error", entry)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", entry)) {
				t.Errorf("error %q does not name the entry %q", err, entry)
			}
		})
	}
	t.Run("default resolver", func(t *testing.T) {
		p, err := NewPolicy(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if p.resolver != net.DefaultResolver {
			t.Errorf("resolver = %v; want net.DefaultResolver", p.resolver)
		}
	})
}

func TestResolve(t *testing.T) {
	p := newTestPolicy(t, "localhost")
	tests := []struct {
		host string
		want []string
	}{
		{"public.example.com", []string{"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"}},
		{"mappedpublic.example.com", []string{"93.184.216.34"}},
		{"8.8.8.8", []string{"8.8.8.8"}},
		{"134744072", []string{"8.8.8.8"}},
		{"[2606:4700:4700::1111]", []string{"2606:4700:4700::1111"}},
		{"localhost", []string{"127.0.0.1", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			addrs, err := p.Resolve(context.Background(), tt.host)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.host, err)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Resolve(%q) = %q; want %q", tt.host, got, tt.want)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		addrs, err := p.Resolve(context.Background(), "mixed.example.com")
		checkErr(t, err, blocked, ClassLoopback)
		if addrs != nil {
			t.Errorf("Resolve returned %v with an error", addrs)
		}
	})
}

func TestCheckAddr(t *testing.T) {
	p := newTestPolicy(t, "127.0.0.1/32", "localhost", "fe80::/10")
	tests := []struct {
		host   string
		addr   string
		reason string // "" when allowed
	}{
		{"example.com", "93.184.216.34", ""},
		{"example.com", "127.0.0.1", ""},
		{"example.com", "10.0.0.1", ClassPrivate},
		{"example.com", "::ffff:127.0.0.1", ClassIPv4Mapped},
		{"example.com", "::ffff:93.184.216.34", ClassIPv4Mapped},
		{"", "::1", ClassLoopback},
		{"", "fe80::1%eth0", ""},
		{"localhost", "::1", ""},
		{"LOCALHOST.", "::1", ""},
		{"foo.localhost", "::1", ClassLoopback},
		{"::1", "::1", ClassLoopback},
		{"8.8.8.8", "8.8.8.8", ""},
		{"169.254.169.254", "169.254.169.254", ClassMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.host+" "+tt.addr, func(t *testing.T) {
			err := p.CheckAddr(tt.host, netip.MustParseAddr(tt.addr))
			if tt.reason == "" {
				checkErr(t, err, "", "")
			} else {
				checkErr(t, err, blocked, tt.reason)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		err := p.CheckAddr("", netip.MustParseAddr("::1"))
		if got, want := pageshot.AsError(err).Message, "The address ::1 is a loopback address."; got != want {
			t.Errorf("message = %q; want %q", got, want)
		}
	})
}

// TestRealDNS uses the machine's resolver.
func TestRealDNS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("nonexistent.invalid", func(t *testing.T) {
		p, err := NewPolicy(Config{})
		if err != nil {
			t.Fatal(err)
		}
		err = p.CheckURL(ctx, &url.URL{Scheme: "http", Host: "nonexistent.invalid"})
		checkErr(t, err, unresolved, "")
	})
	t.Run("localhost allowed by name", func(t *testing.T) {
		p, err := NewPolicy(Config{Allow: []string{"localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := p.Resolve(ctx, "localhost")
		if err != nil {
			t.Fatalf("Resolve(localhost): %v", err)
		}
		if !slices.Contains(addrs, netip.MustParseAddr("127.0.0.1")) {
			t.Errorf("Resolve(localhost) = %v; want 127.0.0.1 among them, unmapped", addrs)
		}
	})
}
