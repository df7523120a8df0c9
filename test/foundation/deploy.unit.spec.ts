import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const repo = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}
interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  securityContext?: { capabilities?: { add?: string[] } };
  readinessProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
}
interface PodSpec {
  serviceAccountName: string;
  hostNetwork?: boolean;
  containers: Container[];
}

const kustomization = parseAllDocuments(read('deploy/kustomization.yaml'))[0]!.toJS() as {
  resources: string[];
};
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(read(`deploy/${file}`)).map((d) => d.toJS() as Manifest),
);
const find = (kind: string, name: string) =>
  manifests.find((m) => m.kind === kind && m.metadata.name === name)!;
const podOf = (m: Manifest) => (m as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));

/** The variables a config map or secret in deploy/ sets. */
const setBy = (kind: string, name: string) => {
  const m = find(kind, name) as unknown as { data?: object; stringData?: object };
  return Object.keys(m.data ?? m.stringData ?? {});
};
const variablesOf = (c: Container) => [
  ...Object.keys(envOf(c)),
  ...(c.envFrom ?? []).flatMap((f) =>
    f.configMapRef ? setBy('ConfigMap', f.configMapRef.name) : setBy('Secret', f.secretRef!.name),
  ),
];

/** Keeps deploy/ (Kubernetes manifests) honest against the apps' settings and the scripts' ports. */
describe('deploy/', () => {
  const appsScript = read('scripts/apps');
  const workloads = {
    ingester: find('Deployment', 'netledger-ingester'),
    planner: find('Deployment', 'netledger-planner'),
    api: find('Deployment', 'netledger-api'),
    executor: find('DaemonSet', 'netledger-executor'),
  };
  // Every variable the apps read, from their settings schemas, and node's own.
  const known = new Set([
    'NODE_OPTIONS',
    ...[
      'libs/process/src/service-config.ts',
      ...['ingester', 'planner', 'executor', 'api'].flatMap((app) =>
        readdirSync(join(repo, 'apps', app, 'src'))
          .filter((f) => f.endsWith('settings.ts'))
          .map((f) => `apps/${app}/src/${f}`),
      ),
    ].flatMap((file) => [...read(file).matchAll(/^\s+([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]!)),
  ]);

  it('lists every file of the folder, each object in the netledger namespace', () => {
    expect(
      readdirSync(join(repo, 'deploy'))
        .filter((f) => f !== 'kustomization.yaml')
        .sort(),
    ).toEqual([...kustomization.resources].sort());
    for (const m of manifests) {
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(m.kind))
        expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('netledger');
    }
  });

  it.each(Object.entries(workloads))(
    '%s runs the image with its APP, port, probes and known variables',
    (app, workload) => {
      const [container] = podOf(workload).containers;
      const env = envOf(container!);
      // The executor has its own image and entry point; the control plane's image takes APP.
      if (app === 'executor') expect(container!.image).toMatch(/^netledger-executor:/);
      else expect([container!.image, env.APP?.value]).toEqual(['netledger:0.1.0', app]);
      expect(env.HTTP_PORT?.value).toBe(new RegExp(`\\[${app}\\]=(\\d+)`).exec(appsScript)?.[1]);
      expect(container!.readinessProbe?.httpGet.path).toBe('/readyz');
      expect(container!.livenessProbe?.httpGet.path).toBe('/healthz');
      for (const variable of variablesOf(container!).filter((v) => v !== 'APP'))
        expect(known.has(variable), `${app}: ${variable} is read by no settings`).toBe(true);
      expect(variablesOf(container!)).toContain('KAFKA_BROKERS');
    },
  );

  it('gives the database to the central apps and the tokens to the api only, from files', () => {
    for (const app of ['ingester', 'planner', 'api'] as const)
      expect(variablesOf(podOf(workloads[app]).containers[0]!)).toContain('DATABASE_URL');
    const executor = variablesOf(podOf(workloads.executor).containers[0]!);
    expect(executor).not.toContain('DATABASE_URL');
    expect(executor.filter((v) => v.startsWith('API_TOKENS'))).toEqual([]);
    // No token sits in the environment or in deploy/: the API reads a file, executors a projected token.
    const api = variablesOf(podOf(workloads.api).containers[0]!);
    expect(api).toEqual(
      expect.arrayContaining(['API_TOKENS_FILE', 'HTTP_TLS_CERT_FILE', 'HTTP_TLS_KEY_FILE']),
    );
    expect(api).not.toContain('API_TOKENS');
    expect(executor).not.toContain('NETLEDGER_TOKEN');
    expect(executor).toEqual(expect.arrayContaining(['NETLEDGER_TOKEN_FILE', 'PLAN_VERIFY_KEYS']));
    expect(variablesOf(podOf(workloads.planner).containers[0]!)).toContain('PLAN_SIGNING_KEY_FILE');
    for (const m of manifests) expect(JSON.stringify(m)).not.toMatch(/change-?me/i);
  });

  it('has every workload reach Kafka over TLS as its own SCRAM user, never in plaintext', () => {
    const users = Object.values(workloads).map((w) => {
      const container = podOf(w).containers[0]!;
      const env = envOf(container);
      expect(variablesOf(container)).toEqual(
        expect.arrayContaining(['KAFKA_USERNAME', 'KAFKA_PASSWORD_FILE', 'KAFKA_CA_FILE']),
      );
      expect(variablesOf(container)).not.toContain('KAFKA_SECURITY');
      return env.KAFKA_USERNAME?.value;
    });
    expect(users).toEqual(['netledger-ingester', 'netledger-planner', 'netledger-api', 'netledger-executor']);
  });

  it("gives each executor a token bound to its pod, for Netledger's audience, and the api TokenReview only", () => {
    const pod = podOf(workloads.executor) as PodSpec & {
      automountServiceAccountToken?: boolean;
      volumes: { projected?: { sources: { serviceAccountToken?: { audience: string } }[] } }[];
    };
    expect(pod.serviceAccountName).toBe('netledger-executor');
    expect(pod.automountServiceAccountToken).toBe(false);
    const audiences = pod.volumes
      .flatMap((v) => v.projected?.sources ?? [])
      .map((s) => s.serviceAccountToken?.audience);
    expect(audiences).toContain('netledger');
    expect(envOf(podOf(workloads.api).containers[0]!).API_TOKEN_REVIEW?.value).toBe('on');
    const binding = find('ClusterRoleBinding', 'netledger-api-auth-delegator') as unknown as {
      roleRef: { name: string };
      subjects: { name: string }[];
    };
    expect([binding.roleRef.name, binding.subjects.map((s) => s.name)]).toEqual([
      'system:auth-delegator',
      ['netledger-api'],
    ]);
  });

  it('lets only the ingester read the cluster: list and watch of nodes, services and endpointslices', () => {
    const role = find('ClusterRole', 'netledger-ingester') as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const can = (group: string, resource: string, verb: string) =>
      role.rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    for (const [group, resource] of [
      ['', 'nodes'],
      ['', 'services'],
      ['discovery.k8s.io', 'endpointslices'],
    ] as const) {
      expect(can(group, resource, 'list') && can(group, resource, 'watch'), resource).toBe(true);
    }
    const binding = find('ClusterRoleBinding', 'netledger-ingester') as unknown as {
      subjects: { name: string; namespace: string }[];
    };
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'netledger-ingester', namespace: 'netledger' },
    ]);
    expect(podOf(workloads.ingester).serviceAccountName).toBe('netledger-ingester');
    expect(podOf(workloads.planner).serviceAccountName).toBe('netledger');
  });

  it('gives the executor sources that need no Service VIP (Netledger programs those): no cluster DNS name', () => {
    const [container] = podOf(workloads.executor).containers;
    const values = [
      ...(container!.env ?? []).map((e) => (e as { value?: string }).value ?? ''),
      ...(container!.envFrom ?? []).flatMap((f) => {
        const m = (f.configMapRef
          ? find('ConfigMap', f.configMapRef.name)
          : find('Secret', f.secretRef!.name)) as unknown as {
          data?: Record<string, string>;
          stringData?: Record<string, string>;
        };
        return Object.values(m.data ?? m.stringData ?? {});
      }),
    ];
    expect(variablesOf(container!)).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'NETLEDGER_API']));
    for (const value of values) expect(value).not.toMatch(/\.svc\b|\.cluster\.local\b/);
  });

  it('runs the executor on the host network with NET_ADMIN, named after its node', () => {
    const pod = podOf(workloads.executor);
    const [container] = pod.containers;
    expect(pod.hostNetwork).toBe(true);
    expect(container!.securityContext?.capabilities?.add).toContain('NET_ADMIN');
    expect(envOf(container!).NODE_NAME?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });
});
