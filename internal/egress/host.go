package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalidHost is wrapped by every error of ParseHost.
var ErrInvalidHost = errors.New("invalid host")

// Host is a URL host as a browser understands it: an IP address or a
// domain name, never both.
type Host struct {
	// Name is the domain name in lower case without its trailing dot; empty
	// when the host is an IP address.
	Name string
	// Addr is the address of an IP-literal host; the zero Addr for a name.
	Addr netip.Addr
}

// IsIP tells whether the host is an IP address.
func (h Host) IsIP() bool { return h.Addr.IsValid() }

// String returns the canonical spelling: the name, the dotted IPv4 address,
// or the IPv6 address in brackets.
func (h Host) String() string {
	switch {
	case h.Addr.Is6():
		return "[" + h.Addr.String() + "]"
	case h.Addr.IsValid():
		return h.Addr.String()
	}
	return h.Name
}

// ParseHost parses the host of a URL of a special scheme (http, https) the
// way the WHATWG URL standard, and so Chromium, does, so that a host the
// browser takes for an IP address is one here too. s is the host as
// url.URL.Hostname returns it (already percent-decoded, IPv6 without
// brackets) or with brackets around an IPv6 address.
//
//   - "[::1]", "::1", "[fe80::1%eth0]": IPv6; a zone is kept in Addr.
//   - A host whose last label is a number is IPv4, in any of the forms
//     browsers accept: "2130706433", "0x7f000001", "017700000001",
//     "127.1", "0x7f.0.1", "127.0.0.1." (each part decimal, 0x-hex or
//     0-octal; fewer than four parts fill the last one). If it does not
//     parse, as "1.2.3.256" or "09", the host is invalid rather than a name.
//   - Anything else is a name, lower-cased, with one trailing dot removed.
//     An internationalized name ("münchen.de") is converted to its ASCII
//     form (xn--mnchen-3ya.de) with IDNA's lookup mapping, as the browser
//     does; that mapping also turns full-width digits and dots into ASCII
//     ones, so "１２７.０.０.１" is 127.0.0.1 here as there. A name must not
//     have empty labels and must not contain a code point the URL standard
//     forbids in a domain.
//
// Errors wrap ErrInvalidHost.
func ParseHost(s string) (Host, error) {
	if s == "" {
		return Host{}, fmt.Errorf("parse host: empty: %w", ErrInvalidHost)
	}
	if s[0] == '[' || strings.IndexByte(s, ':') >= 0 {
		inner := s
		if s[0] == '[' {
			if len(s) < 2 || s[len(s)-1] != ']' {
				return Host{}, fmt.Errorf("parse host %q: unclosed bracket: %w", s, ErrInvalidHost)
			}
			inner = s[1 : len(s)-1]
		}
		addr, err := netip.ParseAddr(inner)
		if err != nil || !addr.Is6() {
			return Host{}, fmt.Errorf("parse host %q: not an IPv6 address: %w", s, ErrInvalidHost)
		}
		return Host{Addr: addr}, nil
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) {
		ascii, err := idna.Lookup.ToASCII(s)
		if err != nil || strings.ContainsFunc(ascii, func(r rune) bool { return r >= utf8.RuneSelf }) {
			return Host{}, fmt.Errorf("parse host %q: not a valid internationalized name: %w", s, ErrInvalidHost)
		}
		s = ascii
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if forbiddenInDomain(c) {
			return Host{}, fmt.Errorf("parse host %q: forbidden character %q: %w", s, c, ErrInvalidHost)
		}
	}
	lower := strings.ToLower(s)
	if endsInNumber(lower) {
		addr, ok := parseIPv4(lower)
		if !ok {
			return Host{}, fmt.Errorf("parse host %q: not an IPv4 address: %w", s, ErrInvalidHost)
		}
		return Host{Addr: addr}, nil
	}
	name := strings.TrimSuffix(lower, ".")
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return Host{}, fmt.Errorf("parse host %q: empty label: %w", s, ErrInvalidHost)
	}
	return Host{Name: name}, nil
}

// forbiddenInDomain reports the URL standard's forbidden domain code points
// in the ASCII range (':' is handled by the IPv6 branch).
func forbiddenInDomain(c byte) bool {
	if c <= 0x20 || c == 0x7f {
		return true
	}
	return strings.IndexByte("#%/:<>?@[\\]^|", c) >= 0
}

// endsInNumber is the URL standard's "ends in a number" checker: the host is
// to be parsed as IPv4 when its last label, ignoring one trailing dot, is all
// digits or a 0x-hex number.
func endsInNumber(s string) bool {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, _, ok := parseIPv4Number(last)
	return ok
}

// parseIPv4 is the URL standard's IPv4 parser.
func parseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, overflow, ok := parseIPv4Number(p)
		if !ok || overflow {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 && n > 255 {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	// The last part fills the bytes the others left: 8 bits when there
	// are four parts, 32 when it stands alone.
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := uint32(last)
	for i, n := range nums[:len(nums)-1] {
		v += uint32(n) << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseIPv4Number is the URL standard's IPv4 number parser: decimal, hex
// after 0x, octal after a leading 0; "0x" alone is 0. ok is false for a
// syntax error; overflow is true for a well-formed number of 2^32 or more,
// which the standard still counts as a number when it decides whether a
// host ends in one.
func parseIPv4Number(s string) (n uint64, overflow, ok bool) {
	if s == "" {
		return 0, false, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	for i := 0; i < len(s); i++ {
		var d uint64
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false, false
		}
		if d >= base {
			return 0, false, false
		}
		if !overflow {
			n = n*base + d
			overflow = n >= 1<<32
		}
	}
	return n, overflow, true
}

// reservedSuffixes are names, and the parents of names, that only have a
// meaning on a local network or in special-use DNS (RFC 6761, RFC 6762,
// RFC 8375, and what routers and companies commonly use).
var reservedSuffixes = []string{
	"localhost", "local", "internal", "localdomain", "home.arpa",
	"lan", "intranet", "corp", "private",
}

// IsReservedName tells whether a host name (lower case, no trailing dot, as
// in Host.Name) is reserved: localhost or a name under it, a name under one
// of the local-use suffixes (.local, .internal, .localdomain, .home.arpa,
// .lan, .intranet, .corp, .private), or a name without a dot, which a
// resolver may complete with its search domains. Special-use names that
// simply do not resolve (.invalid, .test, .example) are not reserved.
func IsReservedName(name string) bool {
	if !strings.Contains(name, ".") {
		return true
	}
	for _, s := range reservedSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}
