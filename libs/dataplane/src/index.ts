/** @netledger/dataplane — host appliers and readers: Linux (iptables-restore, iproute2) and recording. */
export {};
