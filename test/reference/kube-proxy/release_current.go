//go:build !legacy

// What differs from v1.37 on (the build tag legacy marks v1.34 to v1.36; see scripts/kube).

package main

import (
	"net"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
)

// setRandomFully: v1.37 asks no iptables whether it has --random-fully.
func setRandomFully(*iptablestest.FakeIPTables, bool) {}

// expandNodePortAddressKeywords is kube-proxy's own (v1.37 and later: primary, localhost, all).
func expandNodePortAddressKeywords(addresses []string, nodeIPs map[v1.IPFamily]net.IP) []string {
	return app.ExpandNodePortAddressKeywords(addresses, nodeIPs)
}
