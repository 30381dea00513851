// What render is handed from outside gantry.yaml (--image, the commit, K8S_SECRET_* variables)
// is held to Kubernetes' limits before a manifest exists.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { renderManifests } from '../../../src/render/render.js';
import { ciSecret } from '../../../src/render/secret.js';
import { buildView } from '../../../src/render/view.js';
import { ciContext, digestImage, fullConfig, repoRoot } from '../../support/fixtures.js';

test('an empty --image is refused, not replaced by the commit tag', () => {
  expect(() => buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: '' })).toThrow(
    expect.objectContaining({ code: 'E_IMAGE_REF', message: expect.stringContaining('--image: "" is not an image reference (it is empty)') }),
  );
  expect(buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: undefined }).image).toMatch(/:01234567$/);
});

test.each(['0123 4567', 'abc\nimage: x', '-abc', 'x'.repeat(129)])('a commit tag %p that is not an image tag is refused, naming its variable', (sha) => {
  expect(() => buildView({ config: fullConfig(), envName: 'staging', ci: ciContext({ CI_COMMIT_SHORT_SHA: sha }) })).toThrow(
    expect.objectContaining({ code: 'E_IMAGE_REF', exitCode: 2, message: expect.stringContaining('CI_COMMIT_SHORT_SHA') }),
  );
});

test('the K8S_SECRET_* Secret is refused above 1 MiB of values, naming the largest variables and never a value', () => {
  const exactly = { K8S_SECRET_A: 'a'.repeat(1024 * 1024 - 2), K8S_SECRET_B: 'bb' };
  expect(ciSecret(exactly, 'shop')?.name).toBe('shop-secrets');
  const over = { K8S_SECRET_A: `hidden${'a'.repeat(1024 * 1024)}`, K8S_SECRET_B: 'bb' };
  let thrown: unknown;
  try {
    ciSecret(over, 'shop');
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: 'E_CI_SECRET_TOO_LARGE', exitCode: 2 });
  const text = `${(thrown as Error).message} ${(thrown as { fix: string }).fix}`;
  expect(text).toContain('1048576');
  expect(text).toContain('K8S_SECRET_A, 1048582 bytes');
  expect(text).not.toContain('hidden');
});

describe('what was rendered is checked against the API server rules before anything is applied', () => {
  async function renderWith(svc: string, config = fullConfig()) {
    const dir = await mkdtemp(path.join(tmpdir(), 'gantry-limits-user-'));
    await mkdir(path.join(dir, 'deploy'), { recursive: true });
    await writeFile(path.join(dir, 'deploy', 'svc.yaml.hbs'), svc);
    try {
      return await renderManifests(buildView({ config, envName: 'staging', ci: ciContext(), image: digestImage }), { userDir: dir });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const service = (metadata: string) =>
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: {{y names.service}}\n  namespace: {{y environment.namespace}}\n  labels: {{json labels}}\n${metadata}spec:\n  selector: {{json selector}}\n  ports: [{ name: http, port: 80, targetPort: http }]\n`;

  test('a template that writes an annotation key Kubernetes refuses', async () => {
    await expect(renderWith(service('  annotations: { "a b/c": "x" }\n'))).rejects.toMatchObject({
      code: 'E_TEMPLATE',
      exitCode: 2,
      message: expect.stringMatching(/Service\/shop metadata\.annotations\["a b\/c"\] would be refused by Kubernetes/),
    });
  });

  test('a label value over 63 characters, and a bad object name', async () => {
    await expect(renderWith(service('  annotations: {}\n'))).resolves.toHaveLength(2);
    const long = service('').replace(
      'labels: {{json labels}}',
      `labels: { "app.kubernetes.io/managed-by": gantry, "app.kubernetes.io/instance": shop-staging, x: "${'v'.repeat(64)}" }`,
    );
    await expect(renderWith(long)).rejects.toMatchObject({ code: 'E_TEMPLATE', message: expect.stringContaining('metadata.labels["x"]') });
    await expect(renderWith(service('').replace('{{y names.service}}', 'Bad_Name'))).rejects.toMatchObject({
      code: 'E_TEMPLATE',
      message: expect.stringContaining('metadata.name would be refused by Kubernetes: must be lowercase'),
    });
  });

  test("the pod template's annotations count Gantry's own with the user's against 256 KiB", async () => {
    const config = fullConfig();
    // Under the limit by itself (validate passes it), over it with the checksums Gantry adds.
    config.backend.podAnnotations = { big: 'x'.repeat(256 * 1024 - 4) };
    await expect(renderWith(service(''), config)).rejects.toMatchObject({
      code: 'E_TEMPLATE',
      message: expect.stringMatching(
        /Deployment\/shop spec\.template\.metadata\.annotations would be refused by Kubernetes: \d+ bytes, at most 262144 \(256 KiB\)/,
      ),
    });
  });
});

test('RBAC names are path segments, not DNS names: a ClusterRole named with ":" renders', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-limits-rbac-'));
  await mkdir(path.join(dir, 'deploy', 'partials'), { recursive: true });
  const { readFile } = await import('node:fs/promises');
  const svc = await readFile(path.join(repoRoot, 'deploy', 'svc.yaml.hbs'), 'utf8');
  await writeFile(
    path.join(dir, 'deploy', 'svc.yaml.hbs'),
    `${svc}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: "gantry:reader"\n  namespace: {{y environment.namespace}}\n  labels: {{json labels}}\nrules: []\n`,
  );
  const m = await renderManifests(buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: digestImage }), { userDir: dir });
  await rm(dir, { recursive: true, force: true });
  expect(m[1]!.objects.map((o) => o.metadata.name)).toContain('gantry:reader');
});
