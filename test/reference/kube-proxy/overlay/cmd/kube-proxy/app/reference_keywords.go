// Compiled into k8s.io/kubernetes/cmd/kube-proxy/app for test/reference/kube-proxy (see
// scripts/kube build-reference): the keyword expansion of nodePortAddresses is unexported.

package app

import (
	"net"

	v1 "k8s.io/api/core/v1"
)

// ExpandNodePortAddressKeywords resolves "primary", "localhost" and "all" as kube-proxy does.
func ExpandNodePortAddressKeywords(nodePortAddresses []string, nodeIPs map[v1.IPFamily]net.IP) []string {
	return expandNodePortAddressKeywords(nodePortAddresses, nodeIPs)
}
