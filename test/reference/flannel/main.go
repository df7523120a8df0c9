// Command flannel-reference runs flannel's own code for one node, wired as flanneld's main wires
// it with --kube-subnet-mgr --ip-masq (the iptables traffic manager, forward rules on): the kube
// subnet manager against a real kube-apiserver, the vxlan backend programming the network
// namespace it is started in, the masquerade and forward rules. It is the reference Netledger's
// overlay planner is compared with (test/dataplane/flannel-reference.e2e.spec.ts). flanneld itself
// is not built: its main imports every backend, and some of their cloud SDKs are not served by the
// module proxy; this wiring is main's, minus the flags, healthz, the subnet file and the host checks
// (br_netfilter) that are not part of what flannel programs.
//
//	NODE_NAME=<node> flannel-reference -kubeconfig FILE -net-conf FILE [-iface eth0]
//
// It prints "ready" once the lease is taken and the rules are set up, then runs until SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/flannel-io/flannel/pkg/backend"
	_ "github.com/flannel-io/flannel/pkg/backend/vxlan"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/ipmatch"
	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/subnet/kube"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
)

func fail(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "flannel-reference: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the apiserver holding the Node")
	netConf := flag.String("net-conf", "", "flannel's net-conf.json")
	iface := flag.String("iface", "eth0", "the underlay interface")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	sm, err := kube.NewSubnetManager(ctx, "", *kubeconfig, "flannel.alpha.coreos.com", *netConf, false)
	fail("subnet manager", err)
	var config *subnet.Config
	for config == nil {
		if config, err = sm.GetNetworkConfig(ctx); err != nil || config == nil {
			config = nil
			time.Sleep(time.Second)
		}
	}
	ipStack, err := ipmatch.GetIPFamily(config.EnableIPv4, config.EnableIPv6)
	fail("ip family", err)
	publicIP, publicIPv6 := sm.GetStoredPublicIP(ctx)
	extIface, err := ipmatch.LookupExtIface(*iface, "", "", ipStack,
		ipmatch.PublicIPOpts{PublicIP: publicIP, PublicIPv6: publicIPv6})
	fail("interface", err)

	var wg sync.WaitGroup
	be, err := backend.NewManager(ctx, sm, extIface).GetBackend(config.BackendType)
	fail("backend", err)
	bn, err := be.RegisterNetwork(ctx, &wg, config)
	fail("register network", err)

	traffic := &iptables.IPTablesManager{}
	fail("traffic manager", traffic.Init(ctx))
	const resyncSeconds = 5
	// No previous subnet file: what flanneld's main reads then (ReadIP6CIDRFromSubnetFile).
	noIPv6Net := ip.IP6Net{IP: (*ip.IP6)(big.NewInt(0)), PrefixLen: 0}
	fail("masquerade rules", traffic.SetupAndEnsureMasqRules(ctx,
		config.Network, ip.IP4Net{}, ip.IP4Net{},
		config.IPv6Network, noIPv6Net, noIPv6Net,
		bn.Lease(), resyncSeconds, false))
	traffic.SetupAndEnsureForwardRules(ctx, config.Network, config.IPv6Network, resyncSeconds)
	fmt.Println("ready")

	wg.Add(1)
	go func() {
		bn.Run(ctx)
		wg.Done()
	}()
	fail("lease", sm.CompleteLease(ctx, bn.Lease(), &wg))
	<-ctx.Done()
	wg.Wait()
}
