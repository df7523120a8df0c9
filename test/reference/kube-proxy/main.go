// kube-proxy-reference: kube-proxy's own iptables proxier (k8s.io/kubernetes, the version in
// go.mod) with its fake iptables, as a process the differential tests talk to. One JSON case per
// line on stdin (a node, its settings, Services and EndpointSlices as the apiserver serves them);
// one JSON answer per line on stdout: the iptables-restore input kube-proxy's first sync wrote, and
// every table as the fake holds it after the sync (built-in chains and kube-proxy's jumps included).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/kubernetes/pkg/proxy/iptables"
	proxyutil "k8s.io/kubernetes/pkg/proxy/util"
	proxyutiltest "k8s.io/kubernetes/pkg/proxy/util/testing"
	iptablestest "k8s.io/kubernetes/pkg/util/iptables/testing"
	netutils "k8s.io/utils/net"
)

type networkInterface struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
}

type settings struct {
	DetectLocalMode     string   `json:"detectLocalMode"`
	ClusterCIDRs        []string `json:"clusterCIDRs"`
	BridgeInterface     string   `json:"bridgeInterface"`
	InterfaceNamePrefix string   `json:"interfaceNamePrefix"`
	MasqueradeBit       int      `json:"masqueradeBit"`
	MasqueradeAll       bool     `json:"masqueradeAll"`
	LocalhostNodePorts  bool     `json:"localhostNodePorts"`
	NodePortAddresses   []string `json:"nodePortAddresses"`
	ConntrackTCPLiberal bool     `json:"conntrackTCPLiberal"`
	NFAcctCounters      []string `json:"nfacct"`
	// RandomFully: the host's iptables has MASQUERADE --random-fully (read before v1.37).
	RandomFully bool `json:"randomFully"`
}

type referenceCase struct {
	Family         v1.IPFamily               `json:"family"`
	NodeName       string                    `json:"nodeName"`
	NodeIP         string                    `json:"nodeIP"`
	NodeLabels     map[string]string         `json:"nodeLabels"`
	NodePodCIDRs   []string                  `json:"nodePodCIDRs"`
	Interfaces     []networkInterface        `json:"interfaces"`
	Settings       settings                  `json:"settings"`
	Services       []v1.Service              `json:"services"`
	EndpointSlices []discovery.EndpointSlice `json:"endpointSlices"`
}

type answer struct {
	Restore string `json:"restore,omitempty"`
	Tables  string `json:"tables,omitempty"`
	Error   string `json:"error,omitempty"`
}

// localDetector follows cmd/kube-proxy's getLocalDetectors for one family.
func localDetector(c *referenceCase) proxyutil.LocalTrafficDetector {
	switch c.Settings.DetectLocalMode {
	case "ClusterCIDR", "":
		if cidrs := proxyutil.MapCIDRsByIPFamily(c.Settings.ClusterCIDRs)[c.Family]; len(cidrs) > 0 {
			return proxyutil.NewDetectLocalByCIDR(cidrs[0].String())
		}
	case "NodeCIDR":
		if cidrs := proxyutil.MapCIDRsByIPFamily(c.NodePodCIDRs)[c.Family]; len(cidrs) > 0 {
			return proxyutil.NewDetectLocalByCIDR(cidrs[0].String())
		}
	case "BridgeInterface":
		return proxyutil.NewDetectLocalByBridgeInterface(c.Settings.BridgeInterface)
	case "InterfaceNamePrefix":
		return proxyutil.NewDetectLocalByInterfaceNamePrefix(c.Settings.InterfaceNamePrefix)
	}
	return proxyutil.NewNoOpLocalDetector()
}

func network(c *referenceCase) (proxyutil.NetworkInterfacer, error) {
	n := proxyutiltest.NewFakeNetwork()
	for i, itf := range c.Interfaces {
		var addrs []net.Addr
		for _, text := range itf.Addresses {
			ip, ipNet, err := netutils.ParseCIDRSloppy(text)
			if err != nil {
				return nil, fmt.Errorf("interface %s: %w", itf.Name, err)
			}
			addrs = append(addrs, &net.IPNet{IP: ip, Mask: ipNet.Mask})
		}
		n.AddInterfaceAddr(&net.Interface{Index: i, Name: itf.Name}, addrs)
	}
	return n, nil
}

func run(c *referenceCase) answer {
	if c.Family == "" {
		c.Family = v1.IPv4Protocol
	}
	nw, err := network(c)
	if err != nil {
		return answer{Error: err.Error()}
	}
	nodeIPs := map[v1.IPFamily]net.IP{c.Family: netutils.ParseIPSloppy(c.NodeIP)}
	var ipt *iptablestest.FakeIPTables
	if c.Family == v1.IPv6Protocol {
		ipt = iptablestest.NewIPv6Fake()
	} else {
		ipt = iptablestest.NewFake()
	}
	setRandomFully(ipt, c.Settings.RandomFully)
	p := iptables.NewReferenceProxier(ipt, iptables.ReferenceSettings{
		IPFamily:            c.Family,
		NodeName:            c.NodeName,
		NodeIP:              netutils.ParseIPSloppy(c.NodeIP),
		Network:             nw,
		LocalDetector:       localDetector(c),
		MasqueradeBit:       c.Settings.MasqueradeBit,
		MasqueradeAll:       c.Settings.MasqueradeAll,
		LocalhostNodePorts:  c.Settings.LocalhostNodePorts,
		NodePortAddresses:   expandNodePortAddressKeywords(c.Settings.NodePortAddresses, nodeIPs),
		ConntrackTCPLiberal: c.Settings.ConntrackTCPLiberal,
		NFAcctCounters:      c.Settings.NFAcctCounters,
		TopologyLabels:      c.NodeLabels,
	})
	for i := range c.Services {
		p.OnServiceAdd(&c.Services[i])
	}
	for i := range c.EndpointSlices {
		p.OnEndpointSliceAdd(&c.EndpointSlices[i])
	}
	restore := p.ReferenceSync()
	return answer{Restore: restore, Tables: ipt.Dump.String()}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 256<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var c referenceCase
		var a answer
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			a = answer{Error: "bad case: " + err.Error()}
		} else {
			a = run(&c)
		}
		if err := out.Encode(a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
