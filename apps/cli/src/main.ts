import { parseArgs } from 'node:util';
import { isNetledgerError } from '@netledger/model';
import {
  apiTarget,
  auditCommand,
  diffApiCommand,
  explainCommand,
  nodesCommand,
  stateCommand,
} from './api-commands';
import { diffCommand } from './diff-command';
import { planCommand } from './plan-command';

const USAGE = `usage:
  netledger plan --cluster FILE --node NAME [--proxy-config FILE] [--net-conf FILE] [--host FILE] [--kube-proxy-version v1.34..v1.37] [--output iptables|iptables-restore|ip6tables|ip6tables-restore|iproute2|json]
  netledger diff --from FILE --to FILE --node NAME [--proxy-config FILE] [--net-conf FILE] [--host FILE] [--kube-proxy-version V]

  Questions to the API (--api URL, --token T; or NETLEDGER_API, NETLEDGER_TOKEN):
  netledger nodes
  netledger state NODE [--revision N | --at TIME] [--format iptables|iptables-restore|iproute2|json]
  netledger diff NODE --from-revision N --to-revision M [--format host|json]
  netledger explain NODE (--table T --chain C [--rule R] | --route DST | --neighbour IP | --fdb MAC)
  netledger audit [--node N] [--kind K] [--namespace NS] [--name NAME] [--type T] [--from TIME] [--to TIME] [--limit N] [--cursor C]

  --cluster, --from, --to   Nodes, Services and EndpointSlices: a Kubernetes List or several YAML/JSON documents
  --node           the node to plan for
  --proxy-config   kube-proxy's KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1)
  --net-conf       flannel's net-conf.json (Network, Backend.Type vxlan, VNI, Port, MTU, DirectRouting)
  --host           what the node's host has: {"interfaceAddresses": [...], "iptables": {"randomFully": true, "nfacct": [...]}, "underlayMtu": 1500}
  --output         iptables (as iptables-save will show Netledger's rules on the node, the built-in chains'
                   jumps included, default), iptables-restore (the input kube-proxy writes),
                   ip6tables and ip6tables-restore (the same, of kube-proxy's IPv6 proxier), iproute2
                   (ip/bridge -batch lines) or json (both families)`;

const PLANNING_OPTIONS = {
  node: { type: 'string' },
  'proxy-config': { type: 'string' },
  'net-conf': { type: 'string' },
  host: { type: 'string' },
  'kube-proxy-version': { type: 'string' },
} as const;

function planningFiles(
  values: { 'proxy-config'?: string; 'net-conf'?: string; host?: string; 'kube-proxy-version'?: string },
  err: (s: string) => void,
) {
  return {
    ...(values['kube-proxy-version'] ? { kubeProxyVersion: values['kube-proxy-version'] } : {}),
    warn: (line: string) => err(`netledger: warning: ${line}\n`),
    ...(values['proxy-config'] ? { proxyConfig: values['proxy-config'] } : {}),
    ...(values['net-conf'] ? { netConf: values['net-conf'] } : {}),
    ...(values.host ? { host: values.host } : {}),
  };
}

const API_OPTIONS = { api: { type: 'string' }, token: { type: 'string' } } as const;

/** The commands that ask the API (asynchronous); undefined when `argv` is not one of them. */
export function runApi(argv: string[]): Promise<string> | undefined {
  const [command, ...rest] = argv;
  const opts = (extra: Record<string, { type: 'string' }>) => {
    const parsed = parseArgs({
      args: rest,
      options: { ...API_OPTIONS, ...extra },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values as Record<string, string | undefined>, positionals: parsed.positionals };
  };
  switch (command) {
    case 'nodes': {
      const { values } = opts({});
      return nodesCommand(apiTarget(values));
    }
    case 'state': {
      const { values, positionals } = opts({
        revision: { type: 'string' },
        at: { type: 'string' },
        format: { type: 'string' },
      });
      if (positionals.length !== 1) throw new UsageError('state needs one NODE');
      return stateCommand(apiTarget(values), positionals[0]!, values);
    }
    case 'explain': {
      const { values, positionals } = opts({
        table: { type: 'string' },
        chain: { type: 'string' },
        rule: { type: 'string' },
        route: { type: 'string' },
        neighbour: { type: 'string' },
        fdb: { type: 'string' },
      });
      if (positionals.length !== 1) throw new UsageError('explain needs one NODE');
      const { api: _a, token: _t, ...selector } = values;
      return explainCommand(apiTarget(values), positionals[0]!, selector);
    }
    case 'audit': {
      const { values } = opts(
        Object.fromEntries(
          ['node', 'kind', 'namespace', 'name', 'type', 'from', 'to', 'limit', 'cursor'].map((k) => [
            k,
            { type: 'string' as const },
          ]),
        ),
      );
      const { api: _a, token: _t, ...filter } = values;
      return auditCommand(apiTarget(values), filter);
    }
    case 'diff': {
      if (rest[0]?.startsWith('--')) return undefined; // the file-based diff
      const { values, positionals } = opts({
        'from-revision': { type: 'string' },
        'to-revision': { type: 'string' },
        format: { type: 'string' },
      });
      if (positionals.length !== 1 || !values['from-revision'] || !values['to-revision'])
        throw new UsageError('diff NODE needs --from-revision and --to-revision');
      return diffApiCommand(apiTarget(values), positionals[0]!, {
        from: values['from-revision'],
        to: values['to-revision'],
        ...(values.format ? { format: values.format } : {}),
      });
    }
    default:
      return undefined;
  }
}

/** Runs one command; returns the exit status. Output goes to stdout, errors to stderr. */
export function run(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'plan': {
        const { values } = parseArgs({
          args: rest,
          options: {
            ...PLANNING_OPTIONS,
            cluster: { type: 'string' },
            output: { type: 'string', default: 'iptables' },
          },
          strict: true,
        });
        if (!values.cluster || !values.node) throw new UsageError('plan needs --cluster and --node');
        out(
          planCommand({
            cluster: values.cluster,
            node: values.node,
            output: values.output,
            ...planningFiles(values, err),
          }),
        );
        return 0;
      }
      case 'diff': {
        const { values } = parseArgs({
          args: rest,
          options: { ...PLANNING_OPTIONS, from: { type: 'string' }, to: { type: 'string' } },
          strict: true,
        });
        if (!values.from || !values.to || !values.node)
          throw new UsageError('diff needs --from, --to and --node');
        out(
          diffCommand({ from: values.from, to: values.to, node: values.node, ...planningFiles(values, err) }),
        );
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    return failed(error, err);
  }
}

/** Runs any command, the API's included; returns the exit status. */
export async function main(
  argv: string[],
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  try {
    const asked = runApi(argv);
    if (!asked) return run(argv, out, err);
    out(await asked);
    return 0;
  } catch (error) {
    return failed(error, err);
  }
}

/** The exit status for a failed command: 2 for usage, 1 for bad input or an API error. */
function failed(error: unknown, err: (s: string) => void): number {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    err(`netledger: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (isNetledgerError(error)) {
    err(`netledger: ${error.message}\n`);
    return 1;
  }
  throw error;
}

class UsageError extends Error {}

if (require.main === module) {
  void main(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then((status) => {
    process.exitCode = status;
  });
}
