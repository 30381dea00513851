// The canary's objects (src/canary/objects.ts) as the real API server judges them: each is
// applied server-side with dryRun=All and strict field validation, the way deploy applies its
// objects, in a namespace of this test's own. The Kruise Rollout is judged against a CRD holding
// the v1beta1 schema of openkruise/rollouts (api/v1beta1/rollout_types.go, trafficrouting.go),
// installed under a group of this test's own so that it never meets a real Kruise installation.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { canaryDeployment, canaryIngress, canaryService, canaryTargets, kruiseRollout, stableFromCanary } from '../../src/canary/objects.js';
import { rolloutSchema } from '../../src/config/schema.js';
import { createCtx } from '../../src/context.js';
import { kubeClient, type KubeClient } from '../../src/kube/client.js';
import type { K8sObject } from '../../src/kube/objects.js';
import { createLogger } from '../../src/log/logger.js';
import { adminKubeconfig, kubectl, kubectlResult, nodeBaseImage, requireCluster } from '../support/cluster.js';
import { renderExample } from '../unit/canary/examples.js';

type Obj = Record<string, any>;

const ns = `traffic-${randomBytes(3).toString('hex')}`;
const group = 'traffic-test.gantry.dev';
const crdName = `rollouts.${group}`;
let client: KubeClient;

/** The object moved into the test namespace. */
const here = (o: K8sObject): K8sObject => ({ ...o, metadata: { ...o.metadata, namespace: ns } });
const dryRun = (o: K8sObject) => client.apply<Obj>(here(o), { dryRun: true });
const kind = (objects: K8sObject[], k: string) => objects.find((o) => o.kind === k) as K8sObject;

beforeAll(async () => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  client = kubeClient(createCtx({ logger: createLogger({ write: () => {}, gitlab: false, color: false }), env: {} }), kc);
});

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
  kubectlResult(['delete', 'customresourcedefinition', crdName, '--ignore-not-found', '--wait=false']);
});

describe('the API server accepts the canary objects (server-side apply, dry run, strict fields)', () => {
  test.each([
    ['hello-node', 'staging'],
    ['hello-node', 'production'],
    ['data-app', 'review'],
  ])('%s %s: the canary Deployment of every traffic mode, and its stable from what the server returned', async (example, env) => {
    const objects = await renderExample(example, env);
    const stable = canaryTargets(objects, rolloutSchema.parse({ strategy: 'canary' }), env).deployment;
    const stableAnswer = await dryRun(stable);
    for (const traffic of ['replicas', 'nginx', 'alb'] as const) {
      const canary = canaryDeployment(stable, { replicas: 2, traffic, step: 0, weight: 10 });
      const answer = await dryRun(canary);
      expect(answer.metadata.name).toBe(`${stable.metadata.name}-canary`);
      expect(answer.spec.replicas).toBe(2);
      expect(answer.spec.selector).toEqual((canary as Obj).spec.selector);
      expect(answer.spec.template.metadata.labels).toEqual((canary as Obj).spec.template.metadata.labels);
      expect(answer.spec.template.metadata.annotations).toEqual((canary as Obj).spec.template.metadata.annotations);
      // gantry promote in a later job reads the canary back and applies its stable: accepted, and
      // the same Deployment the server makes of the rendered stable.
      const stableReplicas = (stable as Obj).spec.replicas ?? null;
      const back = await dryRun(stableFromCanary(answer as K8sObject, stableReplicas));
      expect(back.metadata.name).toBe(stable.metadata.name);
      expect(back.metadata.labels).toEqual(stableAnswer.metadata.labels);
      expect(back.metadata.annotations).toEqual(stableAnswer.metadata.annotations);
      expect(back.spec).toEqual(stableAnswer.spec);
    }
  });

  test.each(['nginx', 'alb'] as const)('traffic %s: the canary Service and Ingress of hello-node production (an SLB Service, TLS ports)', async (traffic) => {
    const objects = await renderExample('hello-node', 'production', (c) => {
      if (traffic === 'alb') c.environments.production!.ingress = { className: 'alb', tlsSecret: 'hello-tls', annotations: {} };
    });
    const { service, ingress } = canaryTargets(objects, rolloutSchema.parse({ strategy: 'canary', traffic }), 'production');
    const svc = await dryRun(canaryService(service!, { traffic }));
    expect(svc.metadata.name).toBe('hello-canary');
    expect(svc.spec.type).toBe(traffic === 'alb' ? 'NodePort' : 'ClusterIP');
    expect(svc.spec.selector['app.kubernetes.io/instance']).toBe('hello-production-canary');
    for (const weight of [0, 10, 33.3, 100]) {
      const ing = await dryRun(canaryIngress(ingress!, weight, { traffic, service: service!.metadata.name }));
      expect(ing.metadata.name).toBe('hello-canary');
      expect(ing.spec.rules[0].http.paths[0].backend.service.name).toBe('hello-canary');
      expect(ing.metadata.annotations[`${traffic}.ingress.kubernetes.io/canary`]).toBe('true');
    }
  });
});

describe('which pods each Service selects, with real pods', () => {
  // hello-node staging, small, running the loopback registry's node image with a server that
  // answers every path (the probes ask /healthz).
  const server = "require('http').createServer((q, s) => s.end('ok')).listen(3000)";
  const runnable = (o: K8sObject): K8sObject => {
    const d = structuredClone(o) as Obj;
    delete d.spec.template.spec.imagePullSecrets;
    d.spec.template.spec.terminationGracePeriodSeconds = 1;
    const container = d.spec.template.spec.containers[0];
    Object.assign(container, { image: nodeBaseImage, command: ['node', '-e', server], resources: { requests: { cpu: '10m', memory: '32Mi' } } });
    return d as K8sObject;
  };
  /** The pods behind a Service, by their gantry.dev/track ("stable" when they have none). */
  async function selected(service: string, expected: Record<string, number>): Promise<Record<string, number>> {
    let seen: Record<string, number> = {};
    for (let i = 0; i < 240; i++) {
      const slices = JSON.parse(kubectl(['get', 'endpointslices', '-n', ns, '-l', `kubernetes.io/service-name=${service}`, '-o', 'json'])) as Obj;
      const pods: string[] = slices.items.flatMap((s: Obj) => (s.endpoints ?? []).map((e: Obj) => e.targetRef?.name as string));
      seen = {};
      for (const pod of pods) {
        const labels = JSON.parse(kubectl(['get', 'pod', '-n', ns, pod, '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
        const track = labels['gantry.dev/track'] ?? 'stable';
        seen[track] = (seen[track] ?? 0) + 1;
      }
      if (JSON.stringify(Object.entries(seen).sort()) === JSON.stringify(Object.entries(expected).sort())) return seen;
      await sleep(250);
    }
    return seen;
  }

  test('replicas: the stable Service selects stable and canary pods; nginx: it keeps to the stable ones, the canary Service to the canary', async () => {
    const objects = await renderExample('hello-node', 'staging', (c) => {
      c.environments.staging!.replicas = 1;
    });
    const { deployment, service, ingress } = canaryTargets(objects, rolloutSchema.parse({ strategy: 'canary', traffic: 'nginx' }), 'staging');
    const stable = runnable(deployment);
    for (const o of [kind(objects, 'ConfigMap'), stable, service!]) await client.apply(here(o));

    await client.apply(here(canaryDeployment(stable, { replicas: 1, traffic: 'replicas' })));
    expect(await selected('hello', { stable: 1, canary: 1 })).toEqual({ stable: 1, canary: 1 });

    // The same canary with nginx traffic: a Deployment's selector is immutable, so it is a new one.
    kubectl(['delete', 'deployment', '-n', ns, 'hello-canary', '--wait=true']);
    await client.apply(here(canaryDeployment(stable, { replicas: 1, traffic: 'nginx' })));
    await client.apply(here(canaryService(service!, { traffic: 'nginx' })));
    await client.apply(here(canaryIngress(ingress!, 10, { traffic: 'nginx', service: 'hello' })));
    // The canary pod is up (it has an address) before the stable Service is judged.
    expect(await selected('hello-canary', { canary: 1 })).toEqual({ canary: 1 });
    expect(await selected('hello', { stable: 1 })).toEqual({ stable: 1 });
  }, 120_000);
});

// rollouts.kruise.io/v1beta1 Rollout's spec as openkruise/rollouts declares it (the Go types;
// status left out), structural so that strict validation refuses any field it does not name.
const str = { type: 'string' };
const int32 = { type: 'integer', format: 'int32' };
const intOrString = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
const objectRef = { type: 'object', required: ['apiVersion', 'kind', 'name'], properties: { apiVersion: str, kind: str, name: str } };
const stringMap = { type: 'object', additionalProperties: str };
const canaryStep = {
  type: 'object',
  properties: {
    traffic: str,
    replicas: intOrString,
    pause: { type: 'object', properties: { duration: int32 } },
    // requestHeaderModifier and matches (Gateway API shapes) are not written by Gantry: left open.
    requestHeaderModifier: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    matches: { type: 'array', maxItems: 16, items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  },
};
const trafficRoutingRef = {
  type: 'object',
  required: ['service'],
  properties: {
    service: str,
    gracePeriodSeconds: { ...int32, default: 3 },
    ingress: { type: 'object', required: ['name'], properties: { classType: str, name: str } },
    gateway: { type: 'object', properties: { httpRouteName: str } },
    customNetworkRefs: { type: 'array', items: objectRef },
    additionalParams: stringMap,
  },
};
const common = {
  steps: { type: 'array', maxItems: 50, items: canaryStep },
  trafficRoutings: { type: 'array', items: trafficRoutingRef },
  failureThreshold: intOrString,
  trafficRoutingRef: str,
  disableGenerateCanaryService: { type: 'boolean' },
};
const rolloutCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: crdName },
  spec: {
    group,
    names: { kind: 'Rollout', listKind: 'RolloutList', plural: 'rollouts', singular: 'rollout' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1beta1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: str,
              kind: str,
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['workloadRef', 'strategy'],
                properties: {
                  workloadRef: objectRef,
                  disabled: { type: 'boolean', default: false },
                  strategy: {
                    type: 'object',
                    properties: {
                      paused: { type: 'boolean' },
                      canary: {
                        type: 'object',
                        properties: {
                          ...common,
                          patchPodTemplateMetadata: { type: 'object', properties: { annotations: stringMap, labels: stringMap } },
                          enableExtraWorkloadForCanary: { type: 'boolean' },
                        },
                      },
                      blueGreen: { type: 'object', properties: common },
                    },
                  },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

describe('the Kruise Rollout against the v1beta1 schema', () => {
  beforeAll(async () => {
    kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(rolloutCrd) });
    for (let i = 0; ; i++) {
      const established = kubectlResult(['get', 'customresourcedefinition', crdName, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      if (established.stdout.trim() === 'True') break;
      if (i > 100) throw new Error(`CRD ${crdName} not established`);
      await sleep(100);
    }
  });

  const steps = [{ weight: 10, pause: '2m' }, { weight: 50, pause: 'manual' }, { weight: 90 }];
  const asTestGroup = (o: K8sObject): K8sObject => ({ ...o, apiVersion: `${group}/v1beta1` });
  const applyRollout = (o: K8sObject): Obj => {
    try {
      const out = kubectl(['apply', '--server-side', '--dry-run=server', '--validate=strict', '-o', 'json', '-f', '-'], {
        input: JSON.stringify(here(asTestGroup(o))),
      });
      return JSON.parse(out) as Obj;
    } catch (error) {
      throw new Error(String((error as { stderr?: string }).stderr ?? error));
    }
  };

  test('with an Ingress (trafficRoutings), without one, and with Gantry approving every step: accepted as written', async () => {
    const objects = await renderExample('hello-node', 'production');
    const rollout = rolloutSchema.parse({ strategy: 'canary', traffic: 'kruise', steps });
    const deployment = kind(objects, 'Deployment');
    for (const options of [{ service: kind(objects, 'Service'), ingress: kind(objects, 'Ingress') }, {}, { gantryApproves: true }]) {
      const rendered = kruiseRollout(deployment, rollout, options) as Obj;
      const answer = applyRollout(rendered as K8sObject);
      // Only the defaults the schema declares were added.
      const expected = structuredClone(rendered.spec);
      expected.disabled = false;
      for (const routing of expected.strategy.canary.trafficRoutings ?? []) routing.gracePeriodSeconds = 3;
      expect(answer.spec).toEqual(expected);
    }
  });

  test('the schema has teeth: a misspelt field is refused', () => {
    const bad = {
      apiVersion: 'rollouts.kruise.io/v1beta1',
      kind: 'Rollout',
      metadata: { name: 'bad' },
      spec: { workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x' }, strategy: { canary: { step: [] } } },
    } as K8sObject;
    expect(() => applyRollout(bad)).toThrow(/\.spec\.strategy\.canary\.step: field not declared in schema/);
  });
});
