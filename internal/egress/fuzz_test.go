package egress

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/.

// staticResolver answers every name with the same addresses.
type staticResolver []netip.Addr

func (r staticResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return r, nil
}

// hostileDNS answers like a DNS server under an attacker's control: with
// addresses that must never be reached.
var hostileDNS = staticResolver{
	netip.MustParseAddr("127.0.0.1"),
	netip.MustParseAddr("::ffff:169.254.169.254"),
	netip.MustParseAddr("::1"),
	netip.MustParseAddr("10.0.0.1"),
}

var publicDNS = staticResolver{netip.MustParseAddr("93.184.216.34")}

func mustPolicy(f *testing.F, r Resolver) *Policy {
	p, err := NewPolicy(Config{Resolver: r})
	if err != nil {
		f.Fatal(err)
	}
	return p
}

func FuzzClassify(f *testing.F) {
	p := mustPolicy(f, hostileDNS)
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		class, public := Classify(addr)
		if class == "" || public != (class == ClassPublic) {
			t.Fatalf("Classify(%s) = %q, %v", addr, class, public)
		}
		// Whatever Go's own predicates refuse, we refuse.
		if public && (!addr.IsGlobalUnicast() || addr.IsPrivate() || addr.IsLoopback() ||
			addr.IsLinkLocalUnicast() || addr.IsMulticast() || addr.IsUnspecified() || addr.Is4In6()) {
			t.Fatalf("Classify(%s) = public; Go's predicates disagree", addr)
		}
		if public && addr.Is6() && !globalUnicast6.Contains(addr) {
			t.Fatalf("Classify(%s) = public outside 2000::/3", addr)
		}
		if addr.Is4In6() && class != ClassIPv4Mapped {
			t.Fatalf("Classify(%s) = %q; want %q", addr, class, ClassIPv4Mapped)
		}
		if addr.Is6() {
			if zc, _ := Classify(addr.WithZone("eth0")); zc != class {
				t.Fatalf("Classify(%s%%eth0) = %q; without zone %q", addr, zc, class)
			}
		}
		if addr.Is4() {
			// No IPv6 spelling that embeds an IPv4 address gets through.
			v4 := addr.As4()
			for _, wrapped := range []netip.Addr{
				netip.AddrFrom16(addr.As16()), // ::ffff:a.b.c.d
				netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: v4[0], v4[1], v4[2], v4[3]}), // NAT64
				netip.AddrFrom16([16]byte{0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 15: 1}),       // 6to4
			} {
				if _, pub := Classify(wrapped); pub {
					t.Fatalf("Classify(%s) = public; it embeds %s", wrapped, addr)
				}
			}
		}
		// Without an allow list, CheckAddr is Classify.
		err := p.CheckAddr("", addr)
		if (err == nil) != public {
			t.Fatalf("CheckAddr(%s) = %v; Classify says public=%v", addr, err, public)
		}
		if err != nil && pageshot.AsError(err).Reason != class {
			t.Fatalf("CheckAddr(%s) reason %q; Classify says %q", addr, pageshot.AsError(err).Reason, class)
		}
	})
}

func FuzzParseHost(f *testing.F) {
	p := mustPolicy(f, hostileDNS)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHost) {
				t.Fatalf("ParseHost(%q): %v does not wrap ErrInvalidHost", s, err)
			}
			if _, err := p.Resolve(ctx, s); pageshot.AsError(err).Reason != ReasonInvalidHost {
				t.Fatalf("Resolve(%q) = %v; want reason %s", s, err, ReasonInvalidHost)
			}
			return
		}
		if h.IsIP() == (h.Name != "") {
			t.Fatalf("ParseHost(%q) = %#v; want exactly one of Name and Addr", s, h)
		}
		// The canonical spelling parses to the same host.
		if h2, err := ParseHost(h.String()); err != nil || h2 != h {
			t.Fatalf("ParseHost(%q) = %v, but ParseHost(%q) = %#v, %v", s, h, h.String(), h2, err)
		}
		if !h.IsIP() && (h.Name != strings.ToLower(h.Name) || strings.HasSuffix(h.Name, ".")) {
			t.Fatalf("ParseHost(%q) = name %q; want lower case without trailing dot", s, h.Name)
		}
		// Whatever the strict parser takes for an address is that address.
		if a, err := netip.ParseAddr(s); err == nil && h.Addr != a {
			t.Fatalf("ParseHost(%q) = %v; netip.ParseAddr says %v", s, h, a)
		}
		// With DNS answering only internal addresses and no allow list,
		// nothing but a public IP literal gets through.
		addrs, err := p.Resolve(ctx, s)
		class, public := Classify(h.Addr)
		switch {
		case err == nil && (!h.IsIP() || !public):
			t.Fatalf("Resolve(%q) = %v; want it refused", s, addrs)
		case err == nil && (len(addrs) != 1 || addrs[0] != h.Addr):
			t.Fatalf("Resolve(%q) = %v; want [%v]", s, addrs, h.Addr)
		case err != nil && h.IsIP() && public:
			t.Fatalf("Resolve(%q) of a public address: %v", s, err)
		case err != nil && h.IsIP() && pageshot.AsError(err).Reason != class:
			t.Fatalf("Resolve(%q): %v; want reason %q", s, err, class)
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	hostile := mustPolicy(f, hostileDNS)
	public := mustPolicy(f, publicDNS)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		schemeOK := u.Scheme == "http" || u.Scheme == "https"
		h, hostErr := ParseHost(u.Hostname())
		_, publicIP := Classify(h.Addr)

		errHostile := hostile.CheckURL(ctx, u)
		errPublic := public.CheckURL(ctx, u)
		for _, err := range []error{errHostile, errPublic} {
			if err == nil {
				continue
			}
			pe := pageshot.AsError(err)
			if pe.Code != pageshot.CodeURLBlocked || pe.Reason == "" || pe.Message == "" {
				t.Fatalf("CheckURL(%q) = %#v; want url_blocked with a reason and a message", s, pe)
			}
			if !schemeOK && pe.Reason != ReasonScheme {
				t.Fatalf("CheckURL(%q) reason %q; want %q", s, pe.Reason, ReasonScheme)
			}
		}
		if errHostile == nil && !(schemeOK && hostErr == nil && h.IsIP() && publicIP) {
			t.Fatalf("CheckURL(%q) let a host through whose DNS answers only internal addresses", s)
		}
		if errPublic == nil && !(schemeOK && hostErr == nil && (h.IsIP() && publicIP || !h.IsIP() && !IsReservedName(h.Name))) {
			t.Fatalf("CheckURL(%q) let through host %v", s, h)
		}
		// A host that canonicalizes to a loopback address is refused.
		if hostErr == nil && h.Addr.Unmap().IsLoopback() && errPublic == nil {
			t.Fatalf("CheckURL(%q) let through %v", s, h)
		}
	})
}
