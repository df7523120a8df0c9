import { describe, expect, it } from 'vitest';
import { EMPTY_NODE_DIFF, EMPTY_NODE_STATE } from '@netledger/model';
import { CommandError, type CommandRunner } from './command-runner';
import { LinuxHost } from './linux-host';
import { isNetledgerChain } from '@netledger/planner-core';

/** A host of overlay device flannel.1 owning Netledger's chains, running commands with `run`. */
const hostWith = (run: CommandRunner) =>
  new LinuxHost({ device: () => 'flannel.1', ownsRoute: () => false, ownsChain: isNetledgerChain, run });

describe('LinuxHost', () => {
  it('runs iptables-restore, then the batches, then conntrack deletions, with argument arrays', async () => {
    const calls: string[] = [];
    const run: CommandRunner = async (program, args, input) => {
      calls.push(`${program} ${args.join(' ')}${input ? ` <<${input.split('\n')[0]}` : ''}`);
      if (program === 'conntrack' && args.includes('10.244.1.5'))
        throw new CommandError(
          'conntrack',
          'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.',
          1,
        );
      return '';
    };
    const host = hostWith(run);
    const report = await host.apply(
      {
        ...EMPTY_NODE_DIFF,
        chains: [{ op: 'set', table: 'nat', chain: 'KUBE-SVC-X', rules: ['-j KUBE-SEP-Y'] }],
        routes: {
          upsert: [{ dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'flannel.1', onlink: true }],
          delete: [],
        },
        conntrack: [
          { protocol: 'udp', origDst: '10.96.0.53', replySrc: '10.244.1.5' },
          { protocol: 'udp', origPortDst: 30053 },
        ],
      },
      EMPTY_NODE_STATE,
    );
    expect(calls).toEqual([
      'iptables-restore --noflush --wait <<*nat',
      'ip -batch - <<route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
      'conntrack -D -p udp --orig-dst 10.96.0.53 --reply-src 10.244.1.5',
      'conntrack -D -p udp --orig-port-dst 30053',
    ]);
    expect(report.operations).toContain('# conntrack -D -p udp --orig-port-dst 30053\n');
  });

  it('a real conntrack failure is an error', async () => {
    const run: CommandRunner = async (program) => {
      if (program === 'conntrack') throw new CommandError('conntrack', 'Operation not permitted', 1);
      return '';
    };
    const host = hostWith(run);
    await expect(
      host.apply({ ...EMPTY_NODE_DIFF, conntrack: [{ protocol: 'udp', origPortDst: 1 }] }, EMPTY_NODE_STATE),
    ).rejects.toThrow(/Operation not permitted/);
  });

  it('applies IPv6 chains with ip6tables-restore, and reads a host without ip6tables as holding no IPv6 rules', async () => {
    const calls: string[] = [];
    let ip6tables = true;
    const run: CommandRunner = async (program, args, input) => {
      calls.push(
        `${program} ${args.join(' ')}${input ? ` <<${input.split('\n').slice(0, 2).join(' ')}` : ''}`,
      );
      if (program === 'ip6tables-save' && !ip6tables)
        throw new CommandError(
          'ip6tables-save',
          "ip6tables-save v1.8.9: can't initialize ip6tables table",
          1,
        );
      if (program === 'ip6tables-save')
        return '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j RETURN\nCOMMIT\n';
      if (program === 'ip') return '[]';
      return '';
    };
    const host = hostWith(run);
    await host.apply(
      {
        ...EMPTY_NODE_DIFF,
        chains: [
          { op: 'set', table: 'nat', chain: 'KUBE-SVC-X', rules: ['-j KUBE-SEP-Y'] },
          { op: 'set', family: 'IPv6', table: 'nat', chain: 'KUBE-SVC-Z', rules: ['-j KUBE-SEP-W'] },
        ],
      },
      EMPTY_NODE_STATE,
    );
    expect(calls).toEqual([
      'iptables-restore --noflush --wait <<*nat :KUBE-SVC-X - [0:0]',
      'ip6tables-restore --noflush --wait <<*nat :KUBE-SVC-Z - [0:0]',
    ]);
    const read = await host.read();
    expect(read.chains.get('ipv6/nat/KUBE-SERVICES')).toEqual({
      family: 'IPv6',
      table: 'nat',
      chain: 'KUBE-SERVICES',
      rules: ['-j RETURN'],
    });
    ip6tables = false;
    expect([...(await host.read()).chains.keys()]).toEqual([]);
  });
});
