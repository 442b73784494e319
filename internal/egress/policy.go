package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// Resolver looks up the addresses of a host name; *net.Resolver implements
// it. Policy asks for network "ip" and a name as Host.Name has it: lower
// case, without a trailing dot.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var (
	_ Resolver          = (*net.Resolver)(nil)
	_ pageshot.URLGuard = (*Policy)(nil)
)

// Config configures a Policy.
type Config struct {
	// Allow lists the targets let through although the address classifier
	// or the reserved-name rule refuses them (--egress-allow). Each entry is
	// one of
	//   - a CIDR, "127.0.0.1/32" or "fd00::/8": addresses in it are allowed;
	//   - an IP address, "127.0.0.1", "::1" or "[::1]": that address;
	//   - a host name, "localhost" or "intranet.example.com": that name
	//     passes the reserved-name rule and every address it resolves to
	//     is allowed (case-insensitive, trailing dot ignored);
	//   - "*." and a host name, "*.corp": likewise every name under it,
	//     but not the name itself.
	// An IPv4 entry does not match IPv4-mapped IPv6 addresses. An empty or
	// malformed entry makes NewPolicy fail. Defaults to none.
	Allow []string
	// Resolver resolves host names. Defaults to net.DefaultResolver.
	Resolver Resolver
}

// Policy decides which hosts and addresses a capture may reach (SPEC §3).
// A host is refused when it is an IP address, in any spelling, that is not
// public (see Classify), when it is a reserved name (see IsReservedName), or
// when any address it resolves to is not public; Config.Allow is the only
// exception. A Policy is immutable and safe for concurrent use.
type Policy struct {
	prefixes []netip.Prefix
	names    map[string]bool
	suffixes []string // ".example.com" for the entry "*.example.com"
	resolver Resolver
}

// NewPolicy returns the policy of cfg. It fails, naming the entry, when an
// allow entry is empty or neither a CIDR, an IP address nor a host name.
func NewPolicy(cfg Config) (*Policy, error) {
	p := &Policy{names: map[string]bool{}, resolver: cfg.Resolver}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	for _, entry := range cfg.Allow {
		if err := p.allow(strings.TrimSpace(entry)); err != nil {
			return nil, fmt.Errorf("parse allow entry %q: %w", entry, err)
		}
	}
	return p, nil
}

func (p *Policy) allow(entry string) error {
	if entry == "" {
		return errors.New("empty entry")
	}
	if strings.Contains(entry, "/") {
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return err
		}
		p.prefixes = append(p.prefixes, prefix.Masked())
		return nil
	}
	wildcard := strings.HasPrefix(entry, "*.")
	h, err := ParseHost(strings.TrimPrefix(entry, "*."))
	switch {
	case err != nil:
		return err
	case h.IsIP() && wildcard:
		return errors.New("wildcard on an IP address")
	case h.IsIP():
		addr := h.Addr.WithZone("")
		p.prefixes = append(p.prefixes, netip.PrefixFrom(addr, addr.BitLen()))
	case !validName(h.Name):
		return errors.New("not a host name")
	case wildcard:
		p.suffixes = append(p.suffixes, "."+h.Name)
	default:
		p.names[h.Name] = true
	}
	return nil
}

// validName reports whether name is a DNS host name: labels of 1 to 63
// letters, digits, '-' or '_', at most 253 bytes in all.
func validName(name string) bool {
	if len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (p *Policy) allowsName(name string) bool {
	if p.names[name] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func (p *Policy) allowsAddr(addr netip.Addr) bool {
	addr = addr.WithZone("") // Prefix.Contains never matches a zoned address
	for _, prefix := range p.prefixes {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// CheckURL implements pageshot.URLGuard. It returns nil when u's scheme is
// http or https and its host passes Resolve. Otherwise it returns a
// *pageshot.Error: url_blocked with Reason ReasonScheme, ReasonInvalidHost,
// ReasonReservedName or the class of the refused address;
// name_not_resolved when the host has no address; connection_failed when
// the lookup itself failed (timeout, unreachable server, ended context).
func (p *Policy) CheckURL(ctx context.Context, u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return refuse(ReasonScheme, "The URL has no scheme; only http and https are allowed.", nil)
	default:
		return refuse(ReasonScheme, fmt.Sprintf("The scheme %q is not allowed; only http and https are.", u.Scheme), nil)
	}
	host := u.Hostname()
	if host == "" {
		return refuse(ReasonInvalidHost, "The URL has no host.", nil)
	}
	_, err := p.Resolve(ctx, host)
	return err
}

// Resolve returns the addresses the proxy may dial to reach host, each one
// checked, so that a DNS answer that changes between the check and the dial
// cannot matter: dial these and no other. host is a URL host in any
// spelling ParseHost takes, without a port. An IP-literal host is its own
// single address (with its zone, if any). A name that is allowed by name
// skips the reserved-name rule and the classifier. Every other name must
// not be reserved and all of its addresses must be allowed or public: one
// refused address refuses the host. IPv4-mapped answers are returned, and
// checked, as IPv4 addresses. Errors are those of CheckURL.
func (p *Policy) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	h, err := ParseHost(host)
	if err != nil {
		return nil, refuse(ReasonInvalidHost, fmt.Sprintf("The host %q is not a valid host name or IP address.", host), err)
	}
	if h.IsIP() {
		if err := p.checkAddr(host, false, h.Addr); err != nil {
			return nil, err
		}
		return []netip.Addr{h.Addr}, nil
	}
	allowed := p.allowsName(h.Name)
	if !allowed && IsReservedName(h.Name) {
		return nil, refuse(ReasonReservedName, fmt.Sprintf("The host %q is a reserved name.", host), nil)
	}
	found, err := p.resolver.LookupNetIP(ctx, "ip", h.Name)
	if err != nil {
		return nil, lookupError(host, err)
	}
	if len(found) == 0 {
		return nil, lookupError(host, &net.DNSError{Err: "no addresses", Name: h.Name, IsNotFound: true})
	}
	addrs := make([]netip.Addr, len(found))
	for i, a := range found {
		// Go's resolver returns some IPv4 answers (those from /etc/hosts)
		// in the IPv4-mapped form; either form dials the same host.
		addrs[i] = a.Unmap()
		if allowed {
			continue
		}
		if err := p.checkAddr(host, true, addrs[i]); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// CheckAddr returns nil when the proxy may dial addr to reach host: host is
// a name on the allow list, addr is in an allowed CIDR, or addr is public.
// Otherwise it returns a url_blocked *pageshot.Error whose Reason is the
// class of addr. addr is judged exactly as it will be dialed, so an
// IPv4-mapped address is refused unless allowed. host, the name or IP
// literal the client asked for (without a port), or "", only matters for the
// allow list and the message; the reserved-name rule is Resolve's.
func (p *Policy) CheckAddr(host string, addr netip.Addr) error {
	h, err := ParseHost(host)
	isName := err == nil && !h.IsIP()
	if isName && p.allowsName(h.Name) {
		return nil
	}
	return p.checkAddr(host, isName, addr)
}

func (p *Policy) checkAddr(host string, isName bool, addr netip.Addr) error {
	if p.allowsAddr(addr) {
		return nil
	}
	class, public := Classify(addr)
	if public {
		return nil
	}
	var msg string
	switch canonical := addr.WithZone("").String(); {
	case isName:
		// The address stays out of the message: it would tell a client
		// what internal names resolve to.
		msg = fmt.Sprintf("The host %q resolves to %s.", host, describe(class))
	case host == "":
		msg = fmt.Sprintf("The address %s is %s.", canonical, describe(class))
	case host != canonical && host != "["+canonical+"]":
		msg = fmt.Sprintf("The host %q (%s) is %s.", host, canonical, describe(class))
	default:
		msg = fmt.Sprintf("The host %q is %s.", host, describe(class))
	}
	return refuse(class, msg, fmt.Errorf("check address %s: %s", addr, class))
}

func refuse(reason, msg string, cause error) error {
	return &pageshot.Error{Code: pageshot.CodeURLBlocked, Message: msg, Reason: reason, Err: cause}
}

// lookupError translates a resolver error: a name that does not exist or
// has no address is name_not_resolved, any other failure connection_failed.
func lookupError(host string, err error) error {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &pageshot.Error{
			Code:    pageshot.CodeNameNotResolved,
			Message: fmt.Sprintf("The host %q could not be resolved.", host),
			Err:     fmt.Errorf("resolve host: %w", err),
		}
	}
	return &pageshot.Error{
		Code:    pageshot.CodeConnectionFailed,
		Message: fmt.Sprintf("Resolving the host %q failed.", host),
		Err:     fmt.Errorf("resolve host: %w", err),
	}
}

// DialContext connects to hostport ("host:port") through the policy: only
// to an address it checked, never to one it refused. Refusals are
// url_blocked or name_not_resolved *pageshot.Errors; a failed connection
// is connection_failed.
func (p *Policy) DialContext(ctx context.Context, network, hostport string) (net.Conn, error) {
	return p.dial(ctx, &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}, hostport)
}

func (p *Policy) dial(ctx context.Context, dialer *net.Dialer, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, pageshot.Errorf(pageshot.CodeURLBlocked, "The address %q is not host:port.", hostport)
	}
	addrs, err := p.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var last error
	for _, a := range addrs {
		if err := p.CheckAddr(host, a); err != nil {
			return nil, err
		}
		conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		last = err
	}
	return nil, &pageshot.Error{Code: pageshot.CodeConnectionFailed, Message: fmt.Sprintf("Connecting to %q failed.", host), Err: last}
}

// HTTPClient returns a client for requests pageshot itself makes to URLs
// that strangers chose (webhooks): it connects only through the policy,
// ignores proxy settings of the environment, and does not follow
// redirects, so a receiver cannot bounce it to an internal address.
func (p *Policy) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
