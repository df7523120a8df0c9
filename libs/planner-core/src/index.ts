/**
 * @netledger/planner-core — pure functions from the cluster model to each node's desired state:
 * kube-proxy's iptables rules and flannel's vxlan overlay, diffs between revisions, and their
 * rendering for the host. No I/O, no Nest.
 */
export * from './iptables/types';
export * from './iptables/render-restore';
export * from './kube-proxy/constants';
export * from './kube-proxy/chain-names';
export * from './kube-proxy/service-port';
export * from './kube-proxy/endpoints';
export * from './kube-proxy/categorize';
export * from './kube-proxy/node-profile';
export * from './kube-proxy/service-fragment';
export * from './kube-proxy/fixed-rules';
export * from './kube-proxy/node-plan';
export * from './kube-proxy/tables';
export * from './kube-proxy/kube-proxy-planner';
export * from './overlay/vtep-mac';
export * from './overlay/overlay-node';
export * from './overlay/flannel-rules';
export * from './overlay/overlay-planner';
export * from './network-planner';
export * from './state/rule-edits';
export * from './state/diff';
export * from './state/plan-diff';
export * from './render/batch-input';
export * from './render/iptables';
export * from './render/iproute2';
export * from './parse/iptables-save';
export * from './parse/canonical-rule';
export * from './parse/host-json';
export * from './render/conntrack';
export * from './ledger/fragments';
export * from './ledger/plan-book';
export * from './ledger/plan-recorder';
export * from './ledger/node-change';
export * from './ledger/change-planner';
