import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { renderManifests, type K8sObject, type RenderedManifest } from '../../../src/render/render.js';
import { buildView, type RenderInput } from '../../../src/render/view.js';
import { ciContext, digestImage, fixture, fullConfig } from '../../support/fixtures.js';

const emptyUserDir = path.join(tmpdir(), 'gantry-no-user-templates');

async function render(input: Partial<RenderInput> & { envName: string }, userDir = emptyUserDir): Promise<RenderedManifest[]> {
  const view = buildView({
    config: fullConfig(),
    ci: ciContext(input.envName === 'review' ? { CI_MERGE_REQUEST_IID: '17' } : {}),
    image: digestImage,
    ...input,
  });
  return renderManifests(view, { userDir });
}

const objects = (manifests: RenderedManifest[]): K8sObject[] => manifests.flatMap((m) => m.objects);
const find = (manifests: RenderedManifest[], kind: string) => objects(manifests).find((o) => o.kind === kind) as Record<string, any>;

// Rendered output is compared byte for byte with committed files. To accept an intended
// change: UPDATE_FIXTURES=1 npm test, then review the diff of test/fixtures/render/.
describe.each(['staging', 'production', 'review'])('rendering %s matches the committed manifests', (envName) => {
  test('byte-identical to test/fixtures/render and stable across runs', async () => {
    const first = await render({ envName });
    const second = await render({ envName });
    for (const [i, m] of first.entries()) {
      expect(second[i]!.text).toBe(m.text);
      const file = fixture('render', envName, m.file);
      if (process.env.UPDATE_FIXTURES === '1') {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, m.text);
      }
      expect(existsSync(file)).toBe(true);
      expect(m.text).toBe(readFileSync(file, 'utf8'));
    }
  });
});

describe('manifest contents', () => {
  test('every object carries the Gantry labels and CI annotations', async () => {
    const all = objects(await render({ envName: 'production' }));
    expect(all.map((o) => o.kind)).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Service', 'Ingress']);
    for (const o of all) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'shop',
        'app.kubernetes.io/instance': 'shop-production',
        'app.kubernetes.io/managed-by': 'gantry',
      });
      expect(o.metadata.annotations).toMatchObject({
        'gantry.dev/commit': '0123456789abcdef0123456789abcdef01234567',
        'gantry.dev/pipeline-url': 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
        'gantry.dev/mr': '',
      });
      expect(o.metadata.namespace).toBe('shop');
    }
  });

  test('the review environment lives in the MR namespace with its MR annotation and host', async () => {
    const m = await render({ envName: 'review' });
    for (const o of objects(m)) {
      expect(o.metadata.namespace).toBe('shop-mr-17');
      expect((o.metadata.annotations as Record<string, string>)['gantry.dev/mr']).toBe('17');
    }
    expect(find(m, 'Ingress').spec.rules[0].host).toBe('mr-17.review.shop.example.com');
    expect(find(m, 'Deployment').spec.replicas).toBe(1);
  });

  test('the pod template checksum changes when, and only when, a ConfigMap value changes', async () => {
    const checksum = async (set: Record<string, string>) => {
      const config = fullConfig();
      Object.assign(config.backend.env, set);
      const view = buildView({ config, envName: 'staging', ci: ciContext(), image: digestImage });
      const m = await renderManifests(view, { userDir: emptyUserDir });
      return find(m, 'Deployment').spec.template.metadata.annotations['gantry.dev/config-checksum'] as string;
    };
    const base = await checksum({});
    expect(base).toMatch(/^[a-f0-9]{64}$/);
    expect(await checksum({})).toBe(base);
    expect(await checksum({ VERSION: '1.11' })).not.toBe(base);
    const otherCommit = buildView({ config: fullConfig(), envName: 'staging', ci: ciContext({ CI_COMMIT_SHA: 'f'.repeat(40) }), image: digestImage });
    const m = await renderManifests(otherCommit, { userDir: emptyUserDir });
    expect(find(m, 'Deployment').spec.template.metadata.annotations['gantry.dev/config-checksum']).toBe(base);
  });

  test('K8S_SECRET_* variables: the container loads their Secret, and the pod template checksum changes with any value, never showing it', async () => {
    const { ciSecret } = await import('../../../src/render/secret.js');
    const deployment = async (env: Record<string, string>) => {
      const secret = ciSecret(env, 'shop');
      const view = buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: digestImage, secret });
      return { secret, d: find(await renderManifests(view, { userDir: emptyUserDir }), 'Deployment') };
    };
    const none = await deployment({ OTHER: 'x' });
    expect(none.secret).toBeNull();
    expect(none.d.spec.template.metadata.annotations['gantry.dev/secret-checksum']).toBeUndefined();
    const a = await deployment({ K8S_SECRET_DATABASE_URL: 'postgres://u:hunter2-long@db/x', K8S_SECRET_API_KEY: 'k-123456789' });
    expect(a.secret!.entries).toEqual([
      ['API_KEY', 'k-123456789'],
      ['DATABASE_URL', 'postgres://u:hunter2-long@db/x'],
    ]);
    expect(a.d.spec.template.spec.containers[0].envFrom).toContainEqual({ secretRef: { name: 'shop-secrets' } });
    const sum = a.d.spec.template.metadata.annotations['gantry.dev/secret-checksum'];
    expect(sum).toMatch(/^[a-f0-9]{64}$/);
    expect(JSON.stringify(a.d)).not.toContain('hunter2');
    const same = await deployment({ K8S_SECRET_API_KEY: 'k-123456789', K8S_SECRET_DATABASE_URL: 'postgres://u:hunter2-long@db/x' });
    expect(same.d.spec.template.metadata.annotations['gantry.dev/secret-checksum']).toBe(sum);
    const changed = await deployment({ K8S_SECRET_DATABASE_URL: 'postgres://u:hunter3-long@db/x', K8S_SECRET_API_KEY: 'k-123456789' });
    expect(changed.d.spec.template.metadata.annotations['gantry.dev/secret-checksum']).not.toBe(sum);
  });

  test('the Deployment pins the digest on the pull host with the pull secret, env, probes and init containers', async () => {
    const d = find(await render({ envName: 'staging' }), 'Deployment');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toBe(`crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop@sha256:${'ab'.repeat(32)}`);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(pod.imagePullSecrets).toEqual([{ name: 'acr-pull' }]);
    expect(d.spec.revisionHistoryLimit).toBe(10);
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } });
    expect(c.envFrom).toEqual([
      { configMapRef: { name: 'shop-env-6d5683b812' } },
      { secretRef: { name: 'shop-secrets' } },
      { prefix: 'SETTINGS_', configMapRef: { name: 'shop-settings' } },
    ]);
    expect(c.env).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'url' } } },
      { name: 'SHARED_FLAG', valueFrom: { configMapKeyRef: { name: 'shop-shared', key: 'flag', optional: true } } },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(c.startupProbe.failureThreshold).toBe(60);
    expect(pod.initContainers[0]).toMatchObject({ name: 'migrate', image: c.image, command: ['npm', 'run', 'migrate'] });
    expect(find(await render({ envName: 'staging' }), 'ConfigMap').data).toEqual({
      ENABLED: 'true',
      FEATURE_X: 'yes',
      NODE_OPTIONS: '--max-old-space-size=400',
      PORT: '8080',
      VERSION: '1.10',
    });
  });

  test('tcp probes (what gantry init writes for an app without a route to GET) render tcpSocket on the http port, no httpGet', async () => {
    const config = fullConfig();
    config.backend.probes = { readiness: { tcp: true, periodSeconds: 3 }, liveness: { tcp: true }, startup: { tcp: true, failureThreshold: 60 } };
    const m = await renderManifests(buildView({ config, envName: 'staging', ci: ciContext(), image: digestImage }), { userDir: emptyUserDir });
    const c = find(m, 'Deployment').spec.template.spec.containers[0];
    expect(c.readinessProbe).toEqual({
      tcpSocket: { port: 'http' },
      initialDelaySeconds: 0,
      periodSeconds: 3,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(c.livenessProbe).toEqual({
      tcpSocket: { port: 'http' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(c.startupProbe).toMatchObject({ tcpSocket: { port: 'http' }, failureThreshold: 60 });
    // The port the probes name is the container port the app listens on.
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(m.find((f) => f.file === 'deploy.yaml')!.text).not.toContain('httpGet');
  });

  test('with autoscale there is an HPA on cpu and memory and no spec.replicas to fight it', async () => {
    const m = await render({ envName: 'production' });
    expect(find(m, 'Deployment').spec).not.toHaveProperty('replicas');
    const hpa = find(m, 'HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 12, scaleTargetRef: { kind: 'Deployment', name: 'shop' } });
    expect(hpa.spec.metrics.map((x: any) => [x.resource.name, x.resource.target.averageUtilization])).toEqual([
      ['cpu', 70],
      ['memory', 80],
    ]);
  });

  test('a LoadBalancer Service carries the SLB annotations: reuse by id, intranet, certificate on 443', async () => {
    const svc = find(await render({ envName: 'production' }), 'Service');
    const slb = 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-';
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.metadata.annotations).toMatchObject({
      [`${slb}id`]: 'lb-bp1abcdefghijk',
      [`${slb}force-override-listeners`]: 'true',
      [`${slb}address-type`]: 'intranet',
      [`${slb}vswitch-id`]: 'vsw-bp1xyz',
      [`${slb}cert-id`]: '1234567890-cn-hangzhou',
      [`${slb}protocol-port`]: 'https:443,http:80',
      [`${slb}scheduler`]: 'wrr',
    });
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
    expect(svc.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([
      ['https', 443, 'http'],
      ['http', 80, 'http'],
    ]);
  });

  test('ask adds the ECI pod annotations and the logtail sidecar sharing an emptyDir', async () => {
    const pod = find(await render({ envName: 'production' }), 'Deployment').spec.template;
    expect(pod.metadata.annotations).toMatchObject({
      'k8s.aliyun.com/eci-fail-strategy': 'fail-fast',
      'k8s.aliyun.com/eci-use-specs': '4-8Gi,ecs.c6.xlarge',
      'k8s.aliyun.com/eci-auto-imc': 'true',
    });
    const [app, logtail] = pod.spec.containers;
    expect(logtail.name).toBe('logtail');
    expect(logtail.image).toBe('registry-vpc.cn-hangzhou.aliyuncs.com/log-service/logtail:latest');
    expect(logtail.env).toEqual(
      expect.arrayContaining([
        { name: 'ALIYUN_LOGTAIL_USER_ID', value: '1234567890123456' },
        { name: 'ALIYUN_LOGTAIL_USER_DEFINED_ID', value: 'shop-production' },
        { name: 'ALIYUN_LOGTAIL_CONFIG', value: '/etc/ilogtail/conf/cn-hangzhou/ilogtail_config.json' },
      ]),
    );
    expect(pod.spec.volumes).toEqual([{ name: 'app-logs', emptyDir: {} }]);
    expect(app.volumeMounts).toEqual([{ name: 'app-logs', mountPath: '/var/log/app' }]);
    expect(logtail.volumeMounts).toEqual([{ name: 'app-logs', mountPath: '/var/log/app', readOnly: true }]);
    for (const c of pod.spec.containers) expect(c.resources.requests).toBeDefined();
  });

  test('ack has no ECI annotations and no sidecar', async () => {
    const pod = find(await render({ envName: 'staging' }), 'Deployment').spec.template;
    expect(Object.keys(pod.metadata.annotations).filter((k) => k.startsWith('k8s.aliyun.com/'))).toEqual([]);
    expect(pod.spec.containers).toHaveLength(1);
    expect(pod.spec.volumes).toBeUndefined();
  });

  test('the Ingress gets its class, host and TLS secret', async () => {
    const ing = find(await render({ envName: 'staging' }), 'Ingress');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.tls).toEqual([{ hosts: ['staging.shop.example.com'], secretName: 'shop-staging-tls' }]);
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'shop', port: { number: 80 } });
  });
});

describe("a user's own templates", () => {
  async function userDirWith(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), 'gantry-user-'));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, 'deploy', name)), { recursive: true });
      await writeFile(path.join(dir, 'deploy', name), text);
    }
    return dir;
  }

  test('deploy/svc.yaml.hbs in the repository replaces the default; deploy.yaml stays default', async () => {
    const dir = await userDirWith({
      'svc.yaml.hbs': `apiVersion: v1
kind: Service
metadata:
  name: {{y names.service}}-custom
  namespace: {{y environment.namespace}}
  labels: {{json labels}}
spec:
  selector: {{json selector}}
  ports: [{ port: 8443, targetPort: http }]
`,
    });
    const m = await render({ envName: 'staging' }, dir);
    expect(m[1]!.template).toBe(path.join(dir, 'deploy', 'svc.yaml.hbs'));
    expect(objects(m).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['ConfigMap/shop-env-6d5683b812', 'Deployment/shop', 'Service/shop-custom']);
  });

  test('a template that drops the Gantry labels is refused, naming the object and the fix', async () => {
    const dir = await userDirWith({ 'svc.yaml.hbs': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bare\n' });
    await expect(render({ envName: 'staging' }, dir)).rejects.toMatchObject({
      code: 'E_TEMPLATE',
      message: expect.stringContaining('Service/bare lacks the label app.kubernetes.io/managed-by: gantry'),
    });
  });

  test('a template that renders broken YAML is refused with the line and an excerpt', async () => {
    const dir = await userDirWith({ 'svc.yaml.hbs': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n' });
    const error = await render({ envName: 'staging' }, dir).catch((e) => e);
    expect(error.code).toBe('E_TEMPLATE');
    expect(error.details.join('\n')).toMatch(/line \d+/);
    expect(error.details.join('\n')).toContain('rendered text around it');
  });

  test('a typo in a field name fails in strict mode instead of rendering an empty value', async () => {
    const dir = await userDirWith({ 'svc.yaml.hbs': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{y names.servcie}}\n' });
    const error = await render({ envName: 'staging' }, dir).catch((e) => e);
    expect(error).toMatchObject({ code: 'E_TEMPLATE', message: expect.stringContaining('line 4: {{y}} got no value (is the field name spelt right?)') });
    expect(error.details).toEqual(['4 | name: {{y names.servcie}}']);
    const plain = await userDirWith({ 'svc.yaml.hbs': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{names.servcie}}\n' });
    await expect(render({ envName: 'staging' }, plain)).rejects.toMatchObject({
      code: 'E_TEMPLATE',
      message: expect.stringContaining('"servcie" not defined'),
    });
  });

  test('partials in deploy/partials override and extend the defaults', async () => {
    const dir = await userDirWith({
      'partials/extra.hbs': `---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{y app}}
  namespace: {{y environment.namespace}}
  labels: {{json labels}}
spec:
  minAvailable: 1
  selector: { matchLabels: {{json selector}} }
`,
      'svc.yaml.hbs': `${readFileSync(path.join(fixture('..', '..', 'deploy', 'svc.yaml.hbs')), 'utf8')}\n{{> extra}}\n`,
    });
    const m = await render({ envName: 'staging' }, dir);
    expect(m[1]!.objects.map((o) => o.kind)).toEqual(['Service', 'Ingress', 'PodDisruptionBudget']);
  });
});

describe('inputs', () => {
  test('an image tag pushed to the push host is referenced on the pull host', () => {
    const view = buildView({
      config: fullConfig(),
      envName: 'staging',
      ci: ciContext(),
      image: 'crpi-abc123.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop:01234567',
    });
    expect(view.image).toBe('crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop:01234567');
    expect(view.imagePullPolicy).toBe('Always');
  });

  test('without --image the image is <pull host>/<namespace>/<app>:<short sha>', () => {
    const view = buildView({ config: fullConfig(), envName: 'staging', ci: ciContext() });
    expect(view.image).toBe('crpi-abc123-vpc.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop:01234567');
  });

  test('an unknown environment, a review without MR, and a bad image are input errors (exit 2)', () => {
    const base = { config: fullConfig(), ci: ciContext(), image: digestImage };
    expect(() => buildView({ ...base, envName: 'qa' })).toThrow(
      expect.objectContaining({ code: 'E_ENV_UNKNOWN', exitCode: 2, fix: expect.stringContaining('staging, production, review') }),
    );
    expect(() => buildView({ ...base, envName: 'review' })).toThrow(
      expect.objectContaining({ code: 'E_MR_MISSING', message: 'the review environment needs a merge request' }),
    );
    expect(() => buildView({ ...base, envName: 'staging', image: 'Registry/App:latest' })).toThrow(expect.objectContaining({ code: 'E_IMAGE_REF' }));
    expect(() => buildView({ ...base, envName: 'staging', image: 'r.example.com/app' })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('never deploys an implicit :latest') }),
    );
  });

  test('rendered files parse as multi-document Kubernetes objects', async () => {
    for (const m of await render({ envName: 'production' })) {
      const docs = YAML.parseAllDocuments(m.text).map((d) => d.toJS());
      expect(docs.length).toBe(m.objects.length);
      for (const d of docs) expect(Object.keys(d).slice(0, 3)).toEqual(['apiVersion', 'kind', 'metadata']);
    }
  });
});

test("renders written into one directory at the same moment do not rename each other's file away", async () => {
  const { writeManifests } = await import('../../../src/deploy/render.js');
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-write-'));
  const texts = Array.from({ length: 20 }, (_, i) => `kind: ConfigMap # ${i}\n`);
  await Promise.all(
    texts.map((text) =>
      writeManifests(dir, [
        { file: 'deploy.yaml', text },
        { file: 'svc.yaml', text },
      ]),
    ),
  );
  expect(texts).toContain(readFileSync(path.join(dir, 'deploy.yaml'), 'utf8'));
  expect(readdirSync(dir).sort()).toEqual(['deploy.yaml', 'svc.yaml']);
});
