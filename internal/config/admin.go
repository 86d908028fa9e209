package config

import (
	"flag"
	"fmt"
	"net"
	"strconv"
)

// validateAdminAddr checks --admin-addr: empty (off), or a host:port of
// its own, apart from --addr.
func (c Config) validateAdminAddr() []error {
	if c.AdminAddr == "" {
		return nil
	}
	host, port, err := splitAddr(c.AdminAddr)
	if err != nil {
		return []error{fmt.Errorf("admin-addr %q must be host:port, such as 127.0.0.1:9090 (or empty: off): %v", c.AdminAddr, err)}
	}
	pubHost, pubPort, err := splitAddr(c.Addr)
	if err != nil || port == 0 || port != pubPort {
		return nil // addr's own check speaks for it; port 0 is a fresh port each
	}
	if host == pubHost || wildcard(host) || wildcard(pubHost) {
		return []error{fmt.Errorf("admin-addr %s would share addr %s: give the admin listener an address of its own, or leave it empty to keep /metrics and the health checks on addr", c.AdminAddr, c.Addr)}
	}
	return nil
}

// splitAddr splits host:port and checks the port is a number in range.
func splitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	return host, port, nil
}

// wildcard reports whether host means every local address.
func wildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// flagNames lists the names of fs's flags.
func flagNames(fs interface{ VisitAll(func(*flag.Flag)) }) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}
