// Compiled into k8s.io/kubernetes/pkg/proxy/iptables for test/reference/kube-proxy (see
// scripts/kube build-reference): the Proxier's fields are unexported, and upstream's own
// NewFakeProxier lives in a _test.go file. This builds the Proxier NewProxier would, minus the
// goroutines and the host's sysctls, which the caller passes in as values instead.

package iptables

import (
	"bytes"
	"fmt"
	"net"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/proxy"
	"k8s.io/kubernetes/pkg/proxy/conntrack"
	"k8s.io/kubernetes/pkg/proxy/healthcheck"
	"k8s.io/kubernetes/pkg/proxy/runner"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	utiliptables "k8s.io/kubernetes/pkg/util/iptables"
)

// ReferenceSettings are what NewProxier reads from KubeProxyConfiguration and the host.
type ReferenceSettings struct {
	IPFamily            v1.IPFamily
	NodeName            string
	NodeIP              net.IP
	Network             proxyutil.NetworkInterfacer
	LocalDetector       proxyutil.LocalTrafficDetector
	MasqueradeBit       int
	MasqueradeAll       bool
	LocalhostNodePorts  bool
	NodePortAddresses   []string
	ConntrackTCPLiberal bool
	NFAcctCounters      []string
	// TopologyLabels are the Node's labels (OnTopologyChange would also ask for a sync).
	TopologyLabels map[string]string
}

// NewReferenceProxier is NewProxier without the goroutines: ipt is normally a fake.
func NewReferenceProxier(ipt utiliptables.Interface, s ReferenceSettings) *Proxier {
	nodePortAddresses := proxyutil.NewNodePortAddresses(s.IPFamily, s.NodePortAddresses)
	localhostNodePorts := s.LocalhostNodePorts && nodePortAddresses.ContainsIPv4Loopback()
	counters := map[string]bool{}
	for _, name := range s.NFAcctCounters {
		counters[name] = true
	}
	p := &Proxier{
		ipFamily:                 s.IPFamily,
		svcPortMap:               make(proxy.ServicePortMap),
		serviceChanges:           proxy.NewServiceChangeTracker(s.IPFamily, newServiceInfo, nil),
		endpointsMap:             make(proxy.EndpointsMap),
		endpointsChanges:         proxy.NewEndpointsChangeTracker(s.IPFamily, s.NodeName, newEndpointInfo, nil),
		needFullSync:             true,
		iptables:                 ipt,
		masqueradeAll:            s.MasqueradeAll,
		masqueradeMark:           fmt.Sprintf("%#08x", 1<<uint(s.MasqueradeBit)),
		conntrack:                conntrack.NewFake(),
		localDetector:            s.LocalDetector,
		nodeName:                 s.NodeName,
		nodeIP:                   s.NodeIP,
		serviceHealthServer:      healthcheck.NewFakeServiceHealthServer(),
		precomputedProbabilities: make([]string, 0, 1001),
		iptablesData:             bytes.NewBuffer(nil),
		existingFilterChainsData: bytes.NewBuffer(nil),
		filterChains:             proxyutil.NewLineBuffer(),
		filterRules:              proxyutil.NewLineBuffer(),
		natChains:                proxyutil.NewLineBuffer(),
		natRules:                 proxyutil.NewLineBuffer(),
		localhostNodePorts:       localhostNodePorts,
		nodePortAddresses:        nodePortAddresses,
		networkInterfacer:        s.Network,
		conntrackTCPLiberal:      s.ConntrackTCPLiberal,
		nfAcctCounters:           counters,
		topologyLabels:           s.TopologyLabels,
	}
	p.setInitialized(true)
	// Never looped: On*Change only signals it; ReferenceSync syncs.
	p.syncRunner = runner.NewBoundedFrequencyRunner("reference", p.syncProxyRules, 0, time.Minute, time.Hour)
	return p
}

// ReferenceSync runs one sync and returns the iptables-restore input it wrote.
func (p *Proxier) ReferenceSync() string {
	p.syncProxyRules()
	return p.iptablesData.String()
}
