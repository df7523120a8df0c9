//go:build legacy

// What differs in v1.34 to v1.36 (see release_current.go).

package main

import (
	"fmt"
	"net"

	v1 "k8s.io/api/core/v1"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
)

// setRandomFully: before v1.37 the proxier writes --random-fully only where iptables has it.
func setRandomFully(ipt *iptablestest.FakeIPTables, has bool) { ipt.SetHasRandomFully(has) }

// expandNodePortAddressKeywords for v1.34 to v1.36, where cmd/kube-proxy's server.go resolves
// only a lone "primary" (inline there, so not callable): the node's IP of each family.
func expandNodePortAddressKeywords(addresses []string, nodeIPs map[v1.IPFamily]net.IP) []string {
	if len(addresses) != 1 || addresses[0] != "primary" {
		return addresses
	}
	var expanded []string
	if ip := nodeIPs[v1.IPv4Protocol]; ip != nil && !ip.IsLoopback() {
		expanded = append(expanded, fmt.Sprintf("%s/32", ip.String()))
	}
	if ip := nodeIPs[v1.IPv6Protocol]; ip != nil && !ip.IsLoopback() {
		expanded = append(expanded, fmt.Sprintf("%s/128", ip.String()))
	}
	return expanded
}
