// The canary's Kubernetes objects, rendered from an environment's own rendered objects (as deploy
// applies them): the canary Deployment and its inverse, the canary Service and Ingress for
// ingress-nginx and the ALB Ingress controller, and the Kruise Rollout.
import { z } from 'zod';
import {
  CANARY_OF_ANNOTATION,
  TRACK_LABEL,
  canaryDeployment,
  canaryIngress,
  canaryService,
  canaryStepObjects,
  canaryTargets,
  kruiseRollout,
  stableFromCanary,
} from '../../../src/canary/objects.js';
import { rolloutSchema, type Rollout } from '../../../src/config/schema.js';
import { catalogue, GantryError } from '../../../src/errors.js';
import type { K8sObject } from '../../../src/kube/objects.js';
import { renderExample } from './examples.js';

type Obj = Record<string, any>;

const kind = (objects: K8sObject[], k: string) => objects.find((o) => o.kind === k) as Obj;
const rollout = (input: unknown = {}): Rollout => rolloutSchema.parse({ strategy: 'canary', ...(input as object) });

const examples = [
  ['hello-node', 'staging'],
  ['hello-node', 'production'],
  ['hello-node', 'review'],
  ['data-app', 'staging'],
  ['data-app', 'production'],
  ['data-app', 'review'],
] as const;

describe('canaryDeployment: the new version beside the stable one', () => {
  test('replicas: <name>-canary, the track label on pods and selector, its own replicas, the stable name in an annotation', async () => {
    const stable = kind(await renderExample('hello-node', 'staging'), 'Deployment');
    const canary = canaryDeployment(stable as K8sObject, { replicas: 1, traffic: 'replicas' }) as Obj;
    expect(canary.metadata).toEqual({
      name: 'hello-canary',
      namespace: 'hello-staging',
      labels: { ...stable.metadata.labels, 'gantry.dev/track': 'canary' },
      annotations: {
        'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
        'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
        'gantry.dev/mr': '',
        'gantry.dev/deployed-by': 'alice',
        'kubernetes.io/change-cause': 'gantry 01234567 to staging https://gitlab.example.com/acme/shop/-/pipelines/4242',
        'gantry.dev/canary-of': 'hello',
      },
    });
    expect(canary.spec.replicas).toBe(1);
    // Both carry name and instance, so the Service (which selects only those) sends traffic to both.
    expect(canary.spec.selector).toEqual({
      matchLabels: { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello-staging', 'gantry.dev/track': 'canary' },
    });
    expect(canary.spec.template.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'hello',
      'app.kubernetes.io/instance': 'hello-staging',
      'app.kubernetes.io/managed-by': 'gantry',
      'gantry.dev/environment': 'staging',
      'gantry.dev/track': 'canary',
    });
    // The rest is the new render itself: the same pod spec, strategy, limits.
    const { replicas: _r, selector: _s, template, ...rest } = canary.spec;
    const { replicas: _sr, selector: _ss, template: stableTemplate, ...stableRest } = stable.spec;
    expect(rest).toEqual(stableRest);
    expect(template.spec).toEqual(stableTemplate.spec);
    expect(template.metadata.annotations).toEqual(stableTemplate.metadata.annotations);
    // The input is not changed.
    expect(stable.metadata.name).toBe('hello');
    expect(stable.spec.selector.matchLabels[TRACK_LABEL]).toBeUndefined();
  });

  test('nginx and alb: canary pods get <instance>-canary, so the stable Service does not select them', async () => {
    const stable = kind(await renderExample('hello-node', 'staging'), 'Deployment');
    for (const traffic of ['nginx', 'alb'] as const) {
      const canary = canaryDeployment(stable as K8sObject, { replicas: 2, traffic }) as Obj;
      expect(canary.spec.selector.matchLabels).toEqual({
        'app.kubernetes.io/name': 'hello',
        'app.kubernetes.io/instance': 'hello-staging-canary',
        'gantry.dev/track': 'canary',
      });
      expect(canary.spec.template.metadata.labels['app.kubernetes.io/instance']).toBe('hello-staging-canary');
      // The Deployment itself stays in the environment's instance: gantry stop and prune find it.
      expect(canary.metadata.labels['app.kubernetes.io/instance']).toBe('hello-staging');
    }
  });

  test('an autoscaled stable: the canary still has spec.replicas (no HPA scales it), ECI pod settings kept', async () => {
    const stable = kind(await renderExample('hello-node', 'production'), 'Deployment');
    expect(stable.spec.replicas).toBeUndefined();
    const canary = canaryDeployment(stable as K8sObject, { replicas: 3, traffic: 'replicas', step: 1, weight: 10 }) as Obj;
    expect(Object.keys(canary.spec)[0]).toBe('replicas');
    expect(canary.spec.replicas).toBe(3);
    expect(canary.spec.template.metadata.annotations).toEqual(stable.spec.template.metadata.annotations);
    expect(canary.spec.template.metadata.annotations['k8s.aliyun.com/eci-fail-strategy']).toBe('fail-fast');
    expect(canary.metadata.annotations).toMatchObject({ 'gantry.dev/canary-of': 'hello', 'gantry.dev/canary-step': '1', 'gantry.dev/canary-weight': '10' });
  });

  test('a long name is shortened with a hash, as Gantry shortens names elsewhere', () => {
    const stable = deployment('a'.repeat(60), 'a'.repeat(60));
    const canary = canaryDeployment(stable, { replicas: 1, traffic: 'nginx' }) as Obj;
    expect(canary.metadata.name.length).toBeLessThanOrEqual(63);
    expect(canary.metadata.name).toMatch(/^a+-[0-9a-f]{6}$/);
    expect(canary.spec.selector.matchLabels['app.kubernetes.io/instance'].length).toBeLessThanOrEqual(63);
    expect(stableFromCanary(canary as K8sObject, 1)).toEqual(stable);
  });

  test('refused: a replica count that is no whole number >= 1, kruise traffic, a canary of a canary', () => {
    const stable = deployment('web', 'web-staging');
    expect(() => canaryDeployment(stable, { replicas: 0, traffic: 'replicas' })).toThrow(/replicas/);
    expect(() => canaryDeployment(stable, { replicas: 1.5, traffic: 'replicas' })).toThrow(/replicas/);
    expect(() => canaryDeployment(stable, { replicas: 1, traffic: 'kruise' })).toThrow(/Kruise/);
    const canary = canaryDeployment(stable, { replicas: 1, traffic: 'replicas' });
    expect(() => canaryDeployment(canary, { replicas: 1, traffic: 'replicas' })).toThrow(/already a canary/);
  });

  test('nginx/alb need the instance label in the selector and on the Deployment (a user template without them is refused, exit 2)', () => {
    const stable = deployment('web', 'web-staging') as Obj;
    delete stable.spec.selector.matchLabels['app.kubernetes.io/instance'];
    const error = catchError(() => canaryDeployment(stable as K8sObject, { replicas: 1, traffic: 'nginx' }));
    expect(error).toMatchObject({ code: 'E_CANARY_TEMPLATE', exitCode: 2 });
    expect(error.message).toContain('app.kubernetes.io/instance');
    expect(canaryDeployment(stable as K8sObject, { replicas: 1, traffic: 'replicas' })).toBeDefined();
  });
});

describe('stableFromCanary gives back exactly the Deployment deploy renders', () => {
  const cases = examples.flatMap(([example, env]) => (['replicas', 'nginx', 'alb'] as const).map((traffic) => [example, env, traffic] as const));
  test.each(cases)('%s %s, traffic %s: round trip for 1 and 4 canary pods, byte for byte', async (example, env, traffic) => {
    const stable = kind(await renderExample(example, env), 'Deployment') as K8sObject;
    const stableReplicas = (stable as Obj).spec.replicas ?? null;
    for (const replicas of [1, 4]) {
      for (const step of [undefined, 2]) {
        const canary = canaryDeployment(stable, { replicas, traffic, step, weight: step && 50 });
        const back = stableFromCanary(canary, stableReplicas);
        expect(back).toEqual(stable);
        // Key order too: the YAML a user reads (and the diff deploy prints) is the same.
        expect(JSON.stringify(back)).toBe(JSON.stringify(stable));
      }
    }
  });

  test('a canary read back from the API server (uid, status, revision, defaults) gives the stable without the server fields', async () => {
    const stable = kind(await renderExample('hello-node', 'staging'), 'Deployment') as Obj;
    const canary = canaryDeployment(stable as K8sObject, { replicas: 1, traffic: 'nginx', step: 0 }) as Obj;
    const read = structuredClone(canary);
    Object.assign(read.metadata, {
      uid: 'd9f1e0c2-0000-4000-8000-000000000001',
      resourceVersion: '4711',
      generation: 3,
      creationTimestamp: '2026-12-03T05:00:00Z',
      managedFields: [{ manager: 'gantry', operation: 'Apply' }],
    });
    read.metadata.annotations['deployment.kubernetes.io/revision'] = '1';
    read.status = { replicas: 1, readyReplicas: 1 };
    expect(stableFromCanary(read as K8sObject, 2)).toEqual(stable);
  });

  test('stable replicas: a number sets spec.replicas, null leaves it out (the HPA keeps its count)', async () => {
    const stable = kind(await renderExample('hello-node', 'staging'), 'Deployment') as Obj;
    const canary = canaryDeployment(stable as K8sObject, { replicas: 1, traffic: 'replicas' });
    expect((stableFromCanary(canary, 5) as Obj).spec.replicas).toBe(5);
    const autoscaled = stableFromCanary(canary, null) as Obj;
    expect('replicas' in autoscaled.spec).toBe(false);
  });

  test('a Deployment that is no Gantry canary is refused', () => {
    expect(() => stableFromCanary(deployment('web', 'web-staging'), 1)).toThrow(CANARY_OF_ANNOTATION);
  });
});

describe('canaryService: the Service the canary Ingress routes to (nginx, alb)', () => {
  test('<service>-canary, ClusterIP, selecting the canary instance; no SLB annotations, no node ports', async () => {
    const service = kind(await renderExample('hello-node', 'production'), 'Service');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(canaryService(service as K8sObject, { traffic: 'nginx' })).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'hello-canary',
        namespace: 'hello-production',
        labels: {
          'app.kubernetes.io/name': 'hello',
          'app.kubernetes.io/instance': 'hello-production',
          'app.kubernetes.io/managed-by': 'gantry',
          'gantry.dev/environment': 'production',
          'gantry.dev/track': 'canary',
        },
        annotations: {
          'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
          'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
          'gantry.dev/mr': '',
          'gantry.dev/deployed-by': 'alice',
          'gantry.dev/canary-of': 'hello',
        },
      },
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello-production-canary' },
        ports: [
          { name: 'https', port: 443, targetPort: 'http', protocol: 'TCP' },
          { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        ],
      },
    });
  });

  test('alb: a NodePort or LoadBalancer stable Service gets a NodePort canary (ALB reaches Flannel pods through node ports), a ClusterIP one stays ClusterIP', async () => {
    const lb = kind(await renderExample('hello-node', 'production'), 'Service');
    expect((canaryService(lb as K8sObject, { traffic: 'alb' }) as Obj).spec.type).toBe('NodePort');
    const nodePort = structuredClone(lb);
    nodePort.spec = { type: 'NodePort', selector: lb.spec.selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }] };
    expect((canaryService(nodePort as K8sObject, { traffic: 'alb' }) as Obj).spec).toEqual({
      type: 'NodePort',
      selector: { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/instance': 'hello-production-canary' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    });
    const clusterIp = kind(await renderExample('hello-node', 'staging'), 'Service');
    expect((canaryService(clusterIp as K8sObject, { traffic: 'alb' }) as Obj).spec.type).toBe('ClusterIP');
  });
});

describe('canaryIngress: the same host and paths, to the canary Service, with the weight annotations', () => {
  test('nginx: canary "true" and canary-weight, every backend of the stable Service pointed at the canary one', async () => {
    const ingress = kind(await renderExample('hello-node', 'staging'), 'Ingress');
    expect(canaryIngress(ingress as K8sObject, 10, { traffic: 'nginx', service: 'hello' })).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: 'hello-canary',
        namespace: 'hello-staging',
        labels: {
          'app.kubernetes.io/name': 'hello',
          'app.kubernetes.io/instance': 'hello-staging',
          'app.kubernetes.io/managed-by': 'gantry',
          'gantry.dev/environment': 'staging',
          'gantry.dev/track': 'canary',
        },
        annotations: {
          'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
          'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
          'gantry.dev/mr': '',
          'gantry.dev/deployed-by': 'alice',
          'gantry.dev/canary-of': 'hello',
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '10',
        },
      },
      spec: {
        ingressClassName: 'nginx',
        rules: [
          {
            host: 'staging.hello.example.com',
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'hello-canary', port: { number: 80 } } } }] },
          },
        ],
      },
    });
  });

  test('nginx: a weight with a decimal uses canary-weight-total 1000; 0 and 100 are allowed (hold, full)', async () => {
    const ingress = kind(await renderExample('hello-node', 'staging'), 'Ingress') as K8sObject;
    const annotations = (w: number) => (canaryIngress(ingress, w, { traffic: 'nginx', service: 'hello' }) as Obj).metadata.annotations;
    expect(annotations(33.3)).toMatchObject({ 'nginx.ingress.kubernetes.io/canary-weight': '333', 'nginx.ingress.kubernetes.io/canary-weight-total': '1000' });
    expect(annotations(0)['nginx.ingress.kubernetes.io/canary-weight']).toBe('0');
    expect(annotations(100)['nginx.ingress.kubernetes.io/canary-weight']).toBe('100');
    expect(annotations(50)['nginx.ingress.kubernetes.io/canary-weight-total']).toBeUndefined();
    expect(() => annotations(101)).toThrow(/weight/);
    expect(() => annotations(-1)).toThrow(/weight/);
  });

  test('alb: alb.ingress.kubernetes.io/canary and canary-weight (whole per cent: the ALB takes 0-100), TLS and the user annotations kept', async () => {
    const ingress = kind(
      await renderExample('hello-node', 'staging', (c) => {
        c.environments.staging!.ingress = {
          className: 'alb',
          tlsSecret: 'hello-tls',
          annotations: { 'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS": 443}]' },
        };
      }),
      'Ingress',
    );
    const canary = canaryIngress(ingress as K8sObject, 12.5, { traffic: 'alb', service: 'hello' }) as Obj;
    expect(canary.metadata.annotations).toEqual({
      'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
      'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
      'gantry.dev/mr': '',
      'gantry.dev/deployed-by': 'alice',
      'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS": 443}]',
      'gantry.dev/canary-of': 'hello',
      'alb.ingress.kubernetes.io/canary': 'true',
      'alb.ingress.kubernetes.io/canary-weight': '13',
    });
    expect(canary.spec.tls).toEqual([{ hosts: ['staging.hello.example.com'], secretName: 'hello-tls' }]);
    expect(canary.spec.ingressClassName).toBe('alb');
  });

  test('an Ingress with no backend on the stable Service is refused (a user template routing elsewhere)', async () => {
    const ingress = kind(await renderExample('hello-node', 'staging'), 'Ingress') as K8sObject;
    expect(catchError(() => canaryIngress(ingress, 10, { traffic: 'nginx', service: 'other' }))).toMatchObject({ code: 'E_CANARY_TEMPLATE', exitCode: 2 });
  });
});

describe('canaryTargets: the objects a canary starts from, checked before anything is applied', () => {
  test('finds the Deployment, Service and Ingress of a render', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const targets = canaryTargets(objects, rollout({ traffic: 'nginx' }), 'staging');
    expect(targets.deployment.kind).toBe('Deployment');
    expect(targets.service?.kind).toBe('Service');
    expect(targets.ingress?.kind).toBe('Ingress');
  });

  test.each(['nginx', 'alb'] as const)('traffic %s without a domain (no Ingress): E_CANARY_NO_INGRESS, exit 2, the field and the fix', async (traffic) => {
    const objects = await renderExample('hello-node', 'staging', (c) => {
      delete c.environments.staging!.domain;
    });
    const error = catchError(() => canaryTargets(objects, rollout({ traffic }), 'staging'));
    expect(error).toMatchObject({ code: 'E_CANARY_NO_INGRESS', exitCode: 2 });
    expect(error.message).toBe(
      `environments.staging.rollout.traffic is ${traffic}, but staging has no Ingress (environments.staging.domain is not set); nothing was done`,
    );
    expect(error.fix).toBe(
      `set environments.staging.domain (the canary Ingress takes its host), or use environments.staging.rollout.traffic: replicas (the weight set by replica counts behind the Service)`,
    );
  });

  test('replicas and kruise need no Ingress', async () => {
    const objects = await renderExample('hello-node', 'staging', (c) => {
      delete c.environments.staging!.domain;
    });
    expect(canaryTargets(objects, rollout({ traffic: 'replicas' }), 'staging').ingress).toBeUndefined();
    expect(canaryTargets(objects, rollout({ traffic: 'kruise' }), 'staging').ingress).toBeUndefined();
  });

  test('traffic alb with the nginx class (and the reverse): E_CANARY_INGRESS_CLASS names the class field', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const error = catchError(() => canaryTargets(objects, rollout({ traffic: 'alb' }), 'staging'));
    expect(error).toMatchObject({ code: 'E_CANARY_INGRESS_CLASS', exitCode: 2 });
    expect(error.message).toContain('environments.staging.ingress.className');
    expect(error.fix).toContain('className: alb');
    const albObjects = await renderExample('hello-node', 'staging', (c) => {
      c.environments.staging!.ingress = { className: 'alb', annotations: {} };
    });
    expect(catchError(() => canaryTargets(albObjects, rollout({ traffic: 'nginx' }), 'staging'))).toMatchObject({ code: 'E_CANARY_INGRESS_CLASS' });
    expect(canaryTargets(albObjects, rollout({ traffic: 'alb' }), 'staging').ingress?.metadata.name).toBe('hello');
    // Another class name may be either controller: not judged.
    const custom = await renderExample('hello-node', 'staging', (c) => {
      c.environments.staging!.ingress = { className: 'internal-nginx', annotations: {} };
    });
    expect(canaryTargets(custom, rollout({ traffic: 'alb' }), 'staging').ingress).toBeDefined();
  });

  test("with service instances (data-app review): the app's Service, not a database's", async () => {
    const objects = await renderExample('data-app', 'review');
    expect(objects.filter((o) => o.kind === 'Service').length).toBeGreaterThan(1);
    const targets = canaryTargets(objects, rollout({ traffic: 'nginx' }), 'review');
    expect(targets.service?.metadata.name).toBe('data-app');
    expect(targets.ingress?.metadata.name).toBe('data-app');
    expect(targets.deployment.metadata.name).toBe('data-app');
  });

  test('a render without a Deployment is refused', () => {
    expect(catchError(() => canaryTargets([], rollout(), 'staging'))).toMatchObject({ code: 'E_CANARY_TEMPLATE', exitCode: 2 });
  });

  test('the new codes are in the catalogue', () => {
    for (const code of ['E_CANARY_NO_INGRESS', 'E_CANARY_INGRESS_CLASS', 'E_CANARY_TEMPLATE'] as const) expect(catalogue[code].exitCode).toBe(2);
  });
});

describe('canaryStepObjects: what one step applies, in order', () => {
  test('replicas: the canary Deployment only', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const r = rollout({ traffic: 'replicas' });
    const applied = canaryStepObjects(canaryTargets(objects, r, 'staging'), r, { replicas: 1, weight: 10, step: 0 }) as Obj[];
    expect(applied.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Deployment/hello-canary']);
    expect(applied[0]!.metadata.annotations).toMatchObject({ 'gantry.dev/canary-step': '0', 'gantry.dev/canary-weight': '10' });
  });

  test('nginx: Deployment, Service, then the Ingress with the step weight', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const r = rollout({ traffic: 'nginx' });
    const applied = canaryStepObjects(canaryTargets(objects, r, 'staging'), r, { replicas: 2, weight: 50, step: 1 }) as Obj[];
    expect(applied.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Deployment/hello-canary', 'Service/hello-canary', 'Ingress/hello-canary']);
    expect(applied[0]!.spec.replicas).toBe(2);
    expect(applied[2]!.metadata.annotations['nginx.ingress.kubernetes.io/canary-weight']).toBe('50');
  });

  test('kruise is refused (Kruise makes its own canary)', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const r = rollout({ traffic: 'kruise' });
    expect(() => canaryStepObjects(canaryTargets(objects, r, 'staging'), r, { replicas: 1, weight: 10, step: 0 })).toThrow(/Kruise/);
  });
});

// rollouts.kruise.io/v1beta1 Rollout, as openkruise/rollouts api/v1beta1/rollout_types.go and
// trafficrouting.go declare it (the parts Gantry writes; strict, so a misspelt field fails).
const intOrString = z.union([z.int(), z.string()]);
const kruiseSchema = z.strictObject({
  apiVersion: z.literal('rollouts.kruise.io/v1beta1'),
  kind: z.literal('Rollout'),
  metadata: z.strictObject({
    name: z.string(),
    namespace: z.string(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    workloadRef: z.strictObject({ apiVersion: z.string(), kind: z.string(), name: z.string() }),
    strategy: z.strictObject({
      paused: z.boolean().optional(),
      canary: z.strictObject({
        steps: z
          .array(
            z.strictObject({
              traffic: z
                .string()
                .regex(/^\d+%$/)
                .optional(),
              replicas: intOrString.optional(),
              pause: z.strictObject({ duration: z.int().min(0).max(2147483647).optional() }),
            }),
          )
          .max(50),
        trafficRoutings: z
          .array(
            z.strictObject({
              service: z.string(),
              gracePeriodSeconds: z.int().optional(),
              ingress: z.strictObject({ classType: z.string().optional(), name: z.string() }).optional(),
            }),
          )
          .max(1)
          .optional(),
        enableExtraWorkloadForCanary: z.boolean().optional(),
      }),
    }),
    disabled: z.boolean().optional(),
  }),
});

describe('kruiseRollout: a rollouts.kruise.io/v1beta1 Rollout of the stable Deployment', () => {
  const steps = [{ weight: 10, pause: '2m' }, { weight: 50, pause: 'manual' }, { weight: 80, pause: '1500ms' }, { weight: 90 }];

  test('with an Ingress: a canary Deployment of Kruise, steps of traffic and replicas, pauses in seconds or manual', async () => {
    const objects = await renderExample('hello-node', 'production');
    const rendered = kruiseRollout(kind(objects, 'Deployment') as K8sObject, rollout({ traffic: 'kruise', steps }), {
      service: kind(objects, 'Service') as K8sObject,
      ingress: kind(objects, 'Ingress') as K8sObject,
    });
    expect(rendered).toEqual({
      apiVersion: 'rollouts.kruise.io/v1beta1',
      kind: 'Rollout',
      metadata: {
        name: 'hello',
        namespace: 'hello-production',
        labels: {
          'app.kubernetes.io/name': 'hello',
          'app.kubernetes.io/instance': 'hello-production',
          'app.kubernetes.io/managed-by': 'gantry',
          'gantry.dev/environment': 'production',
        },
        annotations: {
          'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
          'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
          'gantry.dev/mr': '',
          'gantry.dev/deployed-by': 'alice',
        },
      },
      spec: {
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello' },
        strategy: {
          canary: {
            enableExtraWorkloadForCanary: true,
            steps: [
              { traffic: '10%', replicas: '10%', pause: { duration: 120 } },
              { traffic: '50%', replicas: '50%', pause: {} },
              { traffic: '80%', replicas: '80%', pause: { duration: 2 } },
              { traffic: '90%', replicas: '90%', pause: { duration: 0 } },
            ],
            trafficRoutings: [{ service: 'hello', ingress: { classType: 'nginx', name: 'hello' } }],
          },
        },
      },
    });
    expect(kruiseSchema.safeParse(rendered).error).toBeUndefined();
  });

  test('without an Ingress: replicas only, in place (partition style), no trafficRoutings', async () => {
    const objects = await renderExample('data-app', 'production', (c) => {
      delete c.environments.production!.domain;
    });
    const rendered = kruiseRollout(kind(objects, 'Deployment') as K8sObject, rollout({ traffic: 'kruise', steps }), {
      service: kind(objects, 'Service') as K8sObject,
    }) as Obj;
    expect(rendered.spec.strategy.canary).toEqual({
      enableExtraWorkloadForCanary: false,
      steps: [
        { replicas: '10%', pause: { duration: 120 } },
        { replicas: '50%', pause: {} },
        { replicas: '80%', pause: { duration: 2 } },
        { replicas: '90%', pause: { duration: 0 } },
      ],
    });
    expect(kruiseSchema.safeParse(rendered).error).toBeUndefined();
  });

  test('the ALB class maps to classType aliyun-alb', async () => {
    const objects = await renderExample('hello-node', 'staging', (c) => {
      c.environments.staging!.ingress = { className: 'alb', annotations: {} };
    });
    const rendered = kruiseRollout(kind(objects, 'Deployment') as K8sObject, rollout({ traffic: 'kruise', steps }), {
      service: kind(objects, 'Service') as K8sObject,
      ingress: kind(objects, 'Ingress') as K8sObject,
    }) as Obj;
    expect(rendered.spec.strategy.canary.trafficRoutings).toEqual([{ service: 'hello', ingress: { classType: 'aliyun-alb', name: 'hello' } }]);
  });

  test('gantryApproves: every step waits for approval (pause {}), so Gantry moves on only after its analysis passed', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const rendered = kruiseRollout(kind(objects, 'Deployment') as K8sObject, rollout({ traffic: 'kruise', steps }), { gantryApproves: true }) as Obj;
    expect(rendered.spec.strategy.canary.steps.map((s: Obj) => s.pause)).toEqual([{}, {}, {}, {}]);
    expect(kruiseSchema.safeParse(rendered).error).toBeUndefined();
  });

  test('a pause longer than Kruise can count (int32 seconds) waits for approval', async () => {
    const objects = await renderExample('hello-node', 'staging');
    const rendered = kruiseRollout(kind(objects, 'Deployment') as K8sObject, rollout({ traffic: 'kruise', steps: [{ weight: 10, pause: '600000h' }] })) as Obj;
    expect(rendered.spec.strategy.canary.steps).toEqual([{ replicas: '10%', pause: {} }]);
  });
});

function deployment(name: string, instance: string): K8sObject {
  const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': instance };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'ns', labels, annotations: { 'gantry.dev/commit': 'abc' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { ...labels } },
      template: { metadata: { labels: { ...labels } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
  };
}

function catchError(f: () => unknown): GantryError {
  try {
    f();
  } catch (error) {
    if (error instanceof GantryError) return error;
    throw error;
  }
  throw new Error('expected a GantryError');
}
