import { parseArgs } from 'node:util';
import { isNetledgerError } from '@netledger/model';
import { planCommand } from './plan-command';

const USAGE = `usage:
  netledger plan --cluster FILE --node NAME [--proxy-config FILE] [--host FILE] [--output iptables|json]

  --cluster        Nodes, Services and EndpointSlices: a Kubernetes List or several YAML/JSON documents
  --node           the node to plan for
  --proxy-config   kube-proxy's KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1)
  --host           what the node's host has: {"interfaceAddresses": [...], "iptables": {"randomFully": true, "nfacct": [...]}}
  --output         iptables (iptables-restore input, default) or json`;

/** Runs one command; returns the exit status. Output goes to stdout, errors to stderr. */
export function run(argv: string[], out: (s: string) => void, err: (s: string) => void): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'plan': {
        const { values } = parseArgs({
          args: rest,
          options: {
            cluster: { type: 'string' },
            node: { type: 'string' },
            'proxy-config': { type: 'string' },
            host: { type: 'string' },
            output: { type: 'string', default: 'iptables' },
          },
          strict: true,
        });
        if (!values.cluster || !values.node) throw new UsageError('plan needs --cluster and --node');
        out(
          planCommand({
            cluster: values.cluster,
            node: values.node,
            ...(values['proxy-config'] ? { proxyConfig: values['proxy-config'] } : {}),
            ...(values.host ? { host: values.host } : {}),
            output: values.output,
          }),
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
}

class UsageError extends Error {}

if (require.main === module) {
  process.exitCode = run(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
