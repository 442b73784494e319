package egress

import (
	"errors"
	"testing"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		in   string
		want string // Host.String(); "" for an error
	}{
		// IPv4 as browsers spell it.
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f.0.0.0x1", "127.0.0.1"},
		{"0177.0x0.1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"0x7F.1.", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"0.0x", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"1.2.65535", "1.2.255.255"},
		{"169.254.43518", "169.254.169.254"},
		{"0xa9fea9fe", "169.254.169.254"},
		{"4294967296", ""},
		{"0x100000000", ""},
		{"0xffffffffffffffffffffffffffff", ""},
		{"99999999999999999999999999999", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"256.1", ""},
		{"1.2.3.4.5", ""},
		{"09", ""},
		{"08.1", ""},
		{"1..2", ""},
		{".1.2.3", ""},
		{"0xg.1", ""},
		{"example.123", ""},
		{"example.0x1", ""},

		// IPv6, bracketed or as url.URL.Hostname returns it.
		{"[::1]", "[::1]"},
		{"::1", "[::1]"},
		{"[0:0:0:0:0:0:0:1]", "[::1]"},
		{"[::ffff:127.0.0.1]", "[::ffff:127.0.0.1]"},
		{"[::ffff:7f00:1]", "[::ffff:127.0.0.1]"},
		{"[0:0:0:0:0:ffff:127.0.0.1]", "[::ffff:127.0.0.1]"},
		{"[FD00:EC2::254]", "[fd00:ec2::254]"},
		{"[fe80::1%eth0]", "[fe80::1%eth0]"},
		{"fe80::1%eth0", "[fe80::1%eth0]"},
		{"[1.2.3.4]", ""},
		{"[::1", ""},
		{"[", ""},
		{"[]", ""},
		{"[::1]x", ""},
		{"[::ffff:127.0.0.01]", ""},
		{"[12345::1]", ""},
		{"a:b", ""},

		// Names.
		{"example.com", "example.com"},
		{"Example.COM.", "example.com"},
		{"LOCALHOST", "localhost"},
		{"localhost.", "localhost"},
		{"foo.localhost", "foo.localhost"},
		{"1.2.3.4.example.com", "1.2.3.4.example.com"},
		{"0x1.example", "0x1.example"},
		{"example.0xg", "example.0xg"},
		{"ex_ample.com", "ex_ample.com"},
		{"xn--mnchen-3ya.de", "xn--mnchen-3ya.de"},
		{"", ""},
		{".", ""},
		{"..", ""},
		{"a..b", ""},
		{".example.com", ""},
		{"example.com..", ""},
		{"exa mple.com", ""},
		{"a@b.com", ""},
		{"a%41.com", ""},
		{"a/b.com", ""},
		{"a\\b.com", ""},
		{"a\x00b.com", ""},
		{"münchen.de", "xn--mnchen-3ya.de"},
		{"MÜNCHEN.de.", "xn--mnchen-3ya.de"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"１２７.０.０.１", "127.0.0.1"},
		{"exa\u200bmple.com", "example.com"}, // ignored by the mapping, as in the browser
		{"\u0661.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, err := ParseHost(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseHost(%q) = %v; want an error", tt.in, h)
				}
				if !errors.Is(err, ErrInvalidHost) {
					t.Errorf("ParseHost(%q) error %v does not wrap ErrInvalidHost", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHost(%q): %v", tt.in, err)
			}
			if got := h.String(); got != tt.want {
				t.Errorf("ParseHost(%q) = %q; want %q", tt.in, got, tt.want)
			}
			if h.IsIP() == (h.Name != "") {
				t.Errorf("ParseHost(%q) = %#v; want exactly one of Name and Addr", tt.in, h)
			}
		})
	}
}

func TestIsReservedName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"localhost", true},
		{"foo.localhost", true},
		{"printer.local", true},
		{"metadata.google.internal", true},
		{"internal", true},
		{"x.localdomain", true},
		{"localhost.localdomain", true},
		{"nas.home.arpa", true},
		{"router.lan", true},
		{"wiki.intranet", true},
		{"db.corp", true},
		{"x.private", true},
		{"intranet", true},
		{"com", true},
		{"example.com", false},
		{"localhost.example.com", false},
		{"notlocal", true},
		{"my-local.com", false},
		{"corp.example.com", false},
		{"home.arpa.example.com", false},
		{"arpa", true},
		{"x.arpa", false},
		{"nonexistent.invalid", false},
		{"foo.test", false},
		{"www.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsReservedName(tt.name); got != tt.want {
				t.Errorf("IsReservedName(%q) = %v; want %v", tt.name, got, tt.want)
			}
		})
	}
}
