// Package egress decides which network targets a capture may reach: it
// parses URL hosts the way browsers do, classifies IP addresses, and applies
// the operator's allow list (SPEC §3). The filtering proxy that the browser
// talks through is built on Policy, so that the address checked is the
// address dialed.
package egress

import "net/netip"

// Classes of addresses, and the other reasons a target is refused. They are
// the reason member of url_blocked errors that clients see, so they never
// change.
const (
	// ClassPublic is the class of a global unicast address. It is never a
	// refusal reason.
	ClassPublic = "public"

	ClassUnspecified    = "unspecified"     // 0.0.0.0, ::
	ClassThisNetwork    = "this_network"    // 0.0.0.0/8
	ClassLoopback       = "loopback"        // 127.0.0.0/8, ::1
	ClassPrivate        = "private"         // RFC 1918
	ClassCGNAT          = "cgnat"           // 100.64.0.0/10
	ClassLinkLocal      = "link_local"      // 169.254.0.0/16, fe80::/10
	ClassMetadata       = "metadata"        // cloud instance metadata services
	ClassMulticast      = "multicast"       // 224.0.0.0/4, ff00::/8
	ClassBroadcast      = "broadcast"       // 255.255.255.255
	ClassDocumentation  = "documentation"   // TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20
	ClassBenchmark      = "benchmark"       // 198.18.0.0/15, 2001:2::/48
	ClassReserved       = "reserved"        // 240.0.0.0/4, IETF protocol assignments, unallocated IPv6
	ClassIPv4Mapped     = "ipv4_mapped"     // ::ffff:0:0/96
	ClassIPv4Compatible = "ipv4_compatible" // ::/96 (deprecated)
	ClassNAT64          = "nat64"           // 64:ff9b::/96, 64:ff9b:1::/48
	Class6to4           = "6to4"            // 2002::/16
	ClassTeredo         = "teredo"          // 2001::/32
	ClassUniqueLocal    = "unique_local"    // fc00::/7
	ClassSiteLocal      = "site_local"      // fec0::/10 (deprecated)
	ClassDiscard        = "discard"         // 100::/64
	ClassORCHID         = "orchid"          // 2001:10::/28, 2001:20::/28

	// ReasonScheme refuses a URL whose scheme is not http or https.
	ReasonScheme = "scheme"
	// ReasonReservedName refuses a host name that only has a meaning on a
	// local network (localhost, .local, .internal, a name without a dot, …).
	ReasonReservedName = "reserved_name"
	// ReasonInvalidHost refuses a URL without a host, or with a host that is
	// neither a valid name nor a valid IP address.
	ReasonInvalidHost = "invalid_host"
)

type rangeClass struct {
	prefix netip.Prefix
	class  string
}

func ranges(pairs ...string) []rangeClass {
	out := make([]rangeClass, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, rangeClass{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// The first matching range wins, so a narrow range comes before the wide
// one it lies in (a metadata address before link-local or CGNAT).
var (
	ranges4 = ranges(
		"0.0.0.0/32", ClassUnspecified,
		"0.0.0.0/8", ClassThisNetwork,
		"10.0.0.0/8", ClassPrivate,
		"100.100.100.200/32", ClassMetadata, // Alibaba Cloud
		"100.64.0.0/10", ClassCGNAT,
		"127.0.0.0/8", ClassLoopback,
		"169.254.169.254/32", ClassMetadata, // AWS, GCP, Azure, Oracle, …
		"169.254.170.2/32", ClassMetadata, // AWS ECS task metadata
		"169.254.0.0/16", ClassLinkLocal,
		"172.16.0.0/12", ClassPrivate,
		"192.0.0.0/24", ClassReserved, // IETF protocol assignments
		"192.0.2.0/24", ClassDocumentation,
		"192.88.99.0/24", ClassReserved, // 6to4 relay anycast, deprecated
		"192.168.0.0/16", ClassPrivate,
		"198.18.0.0/15", ClassBenchmark,
		"198.51.100.0/24", ClassDocumentation,
		"203.0.113.0/24", ClassDocumentation,
		"224.0.0.0/4", ClassMulticast,
		"255.255.255.255/32", ClassBroadcast,
		"240.0.0.0/4", ClassReserved,
		// Azure's WireServer is a public address that answers only from
		// inside Azure, with the secrets of the VM it serves.
		"168.63.129.16/32", ClassMetadata,
	)
	ranges6 = ranges(
		"::/128", ClassUnspecified,
		"::1/128", ClassLoopback,
		"::ffff:0:0/96", ClassIPv4Mapped,
		"::/96", ClassIPv4Compatible,
		"64:ff9b::/96", ClassNAT64,
		"64:ff9b:1::/48", ClassNAT64,
		"100::/64", ClassDiscard,
		"2001::/32", ClassTeredo,
		"2001:2::/48", ClassBenchmark,
		"2001:10::/28", ClassORCHID,
		"2001:20::/28", ClassORCHID,
		"2001:db8::/32", ClassDocumentation,
		// The rest of the IETF protocol assignments block. Its few globally
		// reachable entries are anycast services, not web sites.
		"2001::/23", ClassReserved,
		"2002::/16", Class6to4,
		"3fff::/20", ClassDocumentation,
		"fd00:ec2::254/128", ClassMetadata, // AWS
		"fc00::/7", ClassUniqueLocal,
		"fe80::/10", ClassLinkLocal,
		"fec0::/10", ClassSiteLocal,
		"ff00::/8", ClassMulticast,
	)
	// globalUnicast6 is the only IPv6 range allocated for global unicast.
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
)

// Classify tells what kind of address addr is. public is true, and class is
// ClassPublic, only for a global unicast address that is none of the special
// ranges above; any other address gets the class that names why it is
// refused. The zone of an IPv6 address is ignored. An IPv4-mapped IPv6
// address (::ffff:127.0.0.1) is classified as ClassIPv4Mapped whatever the
// IPv4 address inside, because it is refused either way; unmap it first to
// classify the IPv4 address. The zero Addr is ClassUnspecified.
func Classify(addr netip.Addr) (class string, public bool) {
	if !addr.IsValid() {
		return ClassUnspecified, false
	}
	addr = addr.WithZone("")
	table := ranges4
	if addr.Is6() {
		table = ranges6
	}
	for _, r := range table {
		if r.prefix.Contains(addr) {
			return r.class, false
		}
	}
	if addr.Is6() && !globalUnicast6.Contains(addr) {
		return ClassReserved, false
	}
	return ClassPublic, true
}

// describe is the phrase for class in client messages.
func describe(class string) string {
	switch class {
	case ClassUnspecified:
		return "the unspecified address"
	case ClassThisNetwork:
		return "a \"this network\" address"
	case ClassLoopback:
		return "a loopback address"
	case ClassPrivate:
		return "a private address"
	case ClassCGNAT:
		return "a carrier-grade NAT address"
	case ClassLinkLocal:
		return "a link-local address"
	case ClassMetadata:
		return "a cloud metadata address"
	case ClassMulticast:
		return "a multicast address"
	case ClassBroadcast:
		return "the broadcast address"
	case ClassDocumentation:
		return "a documentation address"
	case ClassBenchmark:
		return "a benchmarking address"
	case ClassIPv4Mapped:
		return "an IPv4-mapped IPv6 address"
	case ClassIPv4Compatible:
		return "an IPv4-compatible IPv6 address"
	case ClassNAT64:
		return "a NAT64 address"
	case Class6to4:
		return "a 6to4 address"
	case ClassTeredo:
		return "a Teredo address"
	case ClassUniqueLocal:
		return "a unique local address"
	case ClassSiteLocal:
		return "a site-local address"
	case ClassDiscard:
		return "a discard-only address"
	case ClassORCHID:
		return "an ORCHID address"
	default:
		return "a reserved address"
	}
}
