package egress

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr  string
		class string
	}{
		// IPv4
		{"0.0.0.0", ClassUnspecified},
		{"0.1.2.3", ClassThisNetwork},
		{"0.255.255.255", ClassThisNetwork},
		{"10.0.0.1", ClassPrivate},
		{"10.255.255.255", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"192.168.1.1", ClassPrivate},
		{"100.64.0.1", ClassCGNAT},
		{"100.127.255.255", ClassCGNAT},
		{"100.100.100.200", ClassMetadata},
		{"127.0.0.1", ClassLoopback},
		{"127.255.255.254", ClassLoopback},
		{"169.254.169.254", ClassMetadata},
		{"169.254.170.2", ClassMetadata},
		{"168.63.129.16", ClassMetadata},
		{"169.254.0.1", ClassLinkLocal},
		{"169.254.255.255", ClassLinkLocal},
		{"192.0.0.8", ClassReserved},
		{"192.0.0.170", ClassReserved},
		{"192.0.2.1", ClassDocumentation},
		{"198.51.100.7", ClassDocumentation},
		{"203.0.113.9", ClassDocumentation},
		{"192.88.99.1", ClassReserved},
		{"198.18.0.1", ClassBenchmark},
		{"198.19.255.255", ClassBenchmark},
		{"224.0.0.1", ClassMulticast},
		{"239.255.255.250", ClassMulticast},
		{"240.0.0.1", ClassReserved},
		{"255.255.255.254", ClassReserved},
		{"255.255.255.255", ClassBroadcast},
		{"1.1.1.1", ClassPublic},
		{"8.8.8.8", ClassPublic},
		{"11.0.0.1", ClassPublic},
		{"93.184.216.34", ClassPublic},
		{"100.63.255.255", ClassPublic},
		{"100.128.0.1", ClassPublic},
		{"172.32.0.1", ClassPublic},
		{"198.20.0.1", ClassPublic},
		{"223.255.255.255", ClassPublic},

		// IPv6
		{"::", ClassUnspecified},
		{"::1", ClassLoopback},
		{"::ffff:127.0.0.1", ClassIPv4Mapped},
		{"::ffff:8.8.8.8", ClassIPv4Mapped},
		{"::127.0.0.1", ClassIPv4Compatible},
		{"::2", ClassIPv4Compatible},
		{"64:ff9b::7f00:1", ClassNAT64},
		{"64:ff9b::808:808", ClassNAT64},
		{"64:ff9b:1::a00:1", ClassNAT64},
		{"100::1", ClassDiscard},
		{"2001::1", ClassTeredo},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", ClassTeredo},
		{"2001:2::1", ClassBenchmark},
		{"2001:10::1", ClassORCHID},
		{"2001:20::1", ClassORCHID},
		{"2001:db8::1", ClassDocumentation},
		{"2001:1::1", ClassReserved},
		{"2001:1ff::1", ClassReserved},
		{"2002:7f00:1::", Class6to4},
		{"2002:c000:204::1", Class6to4},
		{"3fff::1", ClassDocumentation},
		{"fd00:ec2::254", ClassMetadata},
		{"fd00:ec2::253", ClassUniqueLocal},
		{"fc00::1", ClassUniqueLocal},
		{"fdff:ffff::1", ClassUniqueLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"febf::1", ClassLinkLocal},
		{"fec0::1", ClassSiteLocal},
		{"ff02::1", ClassMulticast},
		{"ff05::1:3", ClassMulticast},
		{"1::1", ClassReserved},
		{"4000::1", ClassReserved},
		{"5f00::1", ClassReserved},
		{"e000::1", ClassReserved},
		{"2001:200::1", ClassPublic},
		{"2001:4860:4860::8888", ClassPublic},
		{"2606:4700:4700::1111", ClassPublic},
		{"2a00:1450:4001::1", ClassPublic},
		{"3ffe::1", ClassPublic},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			class, public := Classify(netip.MustParseAddr(tt.addr))
			if class != tt.class || public != (tt.class == ClassPublic) {
				t.Errorf("Classify(%s) = %q, %v; want %q", tt.addr, class, public, tt.class)
			}
		})
	}
	t.Run("zero", func(t *testing.T) {
		if class, public := Classify(netip.Addr{}); class != ClassUnspecified || public {
			t.Errorf("Classify(zero) = %q, %v; want unspecified", class, public)
		}
	})
}

func TestDescribeEveryClass(t *testing.T) {
	// Each refusal class has its own phrase; only reserved falls back.
	seen := map[string]string{}
	for _, table := range [][]rangeClass{ranges4, ranges6} {
		for _, r := range table {
			d := describe(r.class)
			if d == describe("") && r.class != ClassReserved {
				t.Errorf("class %q has no description", r.class)
			}
			if other, ok := seen[d]; ok && other != r.class {
				t.Errorf("classes %q and %q share the description %q", other, r.class, d)
			}
			seen[d] = r.class
		}
	}
}
