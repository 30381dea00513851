// gantry validate refuses what Kubernetes would refuse, with the field, the limit and the fix.
import { parseConfigText } from '../../../src/config/load.js';
import { resolveEnvironment } from '../../../src/config/resolve.js';
import { ciContext } from '../../support/fixtures.js';

const base = [
  'app: shop',
  'registry: { pushHost: registry.cn-hangzhou.aliyuncs.com, namespace: acme }',
  'environments:',
  '  staging: { namespace: shop-staging }',
  '  review: { domain: "mr-{iid}.example.com" }',
].join('\n');

/** The problem lines of parsing `text` with `set`, or [] when it is valid. */
function problems(text: string, set: string[] = [], setString: string[] = []): string[] {
  try {
    parseConfigText(text, 'gantry.yaml', { env: {}, set, setString });
    return [];
  } catch (error) {
    expect(error).toMatchObject({ code: 'E_CONFIG_INVALID', exitCode: 2 });
    return (error as { details: string[] }).details;
  }
}

describe('int32 fields', () => {
  test.each([
    'backend.replicas',
    'backend.maxReplicas',
    'backend.progressDeadlineSeconds',
    'backend.probes.liveness.timeoutSeconds',
    'backend.probes.readiness.initialDelaySeconds',
    'backend.autoscale.max',
    'environments.staging.replicas',
    'backend.maxSurge',
  ])('%s: 2^31-1 passes, 2^31 is refused with the limit', (field) => {
    const extra = field.startsWith('backend.autoscale') ? ['backend.autoscale.min=1', 'backend.resources.requests.cpu=100m'] : [];
    expect(problems(base, [...extra, `${field}=2147483647`])).toEqual([]);
    const lines = problems(base, [...extra, `${field}=2147483648`]).join('\n');
    expect(lines).toContain(field);
    expect(lines).toContain('at most 2147483647');
  });
});

describe('names and keys', () => {
  test('a namespace that is not a DNS-1123 label is an error that suggests a valid one', () => {
    const lines = problems(base, [], ['environments.staging.namespace=Hello_Staging']).join('\n');
    expect(lines).toMatch(/environments\.staging\.namespace .*"Hello_Staging" is not a namespace Kubernetes accepts: must be lowercase/);
    expect(lines).toContain('e.g. hello-staging');
  });

  test('a namespace over 63 characters after its placeholders are filled is refused', () => {
    const lines = problems(base, [], [`environments.staging.namespace={app}-${'x'.repeat(60)}`]).join('\n');
    expect(lines).toMatch(/65 characters, at most 63/);
  });

  test('{iid} outside review is refused in namespace and domain; inside review it is fine', () => {
    const lines = problems(base, [], ['environments.staging.namespace=ns-{iid}', 'environments.staging.domain=x{iid}.example.com']).join('\n');
    expect(lines).toContain('environments.staging.namespace');
    expect(lines).toContain('environments.staging.domain');
    expect(problems(base, [], ['environments.review.namespace=ns-{iid}'])).toEqual([]);
  });

  test('ingress.className and tlsSecret are DNS-1123 subdomains', () => {
    const lines = problems(base, [], ['environments.staging.ingress.className=nginx\nx', 'environments.staging.ingress.tlsSecret=TLS']).join('\n');
    expect(lines).toMatch(/ingress\.className.*DNS-1123 subdomain/);
    expect(lines).toMatch(/ingress\.tlsSecret.*DNS-1123 subdomain/);
    expect(problems(base, [], ['environments.staging.ingress.className=alb'])).toEqual([]);
  });

  test('annotation keys (pod, Ingress, SLB) are qualified names', () => {
    const text = `${base}\nbackend:\n  podAnnotations: { "a b": "1", "example.com/ok": "1" }\n`;
    expect(problems(text).join('\n')).toMatch(/backend\.podAnnotations.*"a b".*qualified name/);
    const ingress = `${base.replace('staging: { namespace: shop-staging }', 'staging: { ingress: { annotations: { "x/y/z": "1" } } }')}`;
    expect(problems(ingress).join('\n')).toMatch(/ingress\.annotations.*more than one "\/"/);
  });

  test('annotations over 256 KiB are refused with the limit', () => {
    const text = `${base}\nbackend:\n  podAnnotations: { big: "${'x'.repeat(256 * 1024)}" }\n`;
    expect(problems(text).join('\n')).toMatch(/backend\.podAnnotations.*at most 262144 \(256 KiB\)/);
  });
});

describe('sizes', () => {
  test('the env ConfigMap of an environment over 1 MiB is refused; exactly at the limit it passes', () => {
    const port = 4; // PORT=3000
    const at = `${base}\nbackend:\n  env: { BIG: "${'x'.repeat(1024 * 1024 - port)}" }\n`;
    expect(problems(at)).toEqual([]);
    const over = `${base}\nbackend:\n  env: { BIG: "${'x'.repeat(1024 * 1024 - port + 1)}" }\n`;
    expect(problems(over).join('\n')).toMatch(/backend\.env.*1048577 bytes.*at most 1048576 \(1 MiB\)/);
  });

  test("an environment's env adds to the backend's", () => {
    const half = 'x'.repeat(600 * 1024);
    const text = `${base.replace('staging: { namespace: shop-staging }', `staging: { env: { B: "${half}" } }`)}\nbackend:\n  env: { A: "${half}" }\n`;
    expect(problems(text).join('\n')).toMatch(/environments\.staging\.env.*the env ConfigMap of staging/);
  });

  test('a ConfigMap key over 253 characters is refused', () => {
    const text = `${base}\nbackend:\n  env: { ${'K'.repeat(254)}: "1" }\n`;
    expect(problems(text).join('\n')).toMatch(/254 characters; a ConfigMap key is at most 253/);
  });
});

describe('images', () => {
  test.each([
    ['backend.baseImage', ['backend.baseImage=node:{major}\n']],
    ['backend.initContainers.0.image', ['backend.initContainers.0.name=m', 'backend.initContainers.0.command.0=x', 'backend.initContainers.0.image=Node:20']],
    ['registry.namespace', ['registry.namespace=acme..x']],
    ['registry.repository', ['registry.repository=a--_b']],
  ])('%s is checked as an image reference', (field, sets) => {
    expect(problems(base, [], sets).join('\n')).toContain(field);
  });
});

describe('resolveEnvironment checks what validate could not know', () => {
  const config = () => parseConfigText(`${base.replace('shop-staging', '"shop-{slug}"')}`, 'gantry.yaml', { env: {} });

  test('a {slug} that makes the namespace too long is an error, not a hashed name', () => {
    const ci = ciContext({ CI_COMMIT_REF_SLUG: 'x'.repeat(60) });
    expect(() => resolveEnvironment(config(), 'staging', ci)).toThrow(expect.objectContaining({ code: 'E_CONFIG_INVALID', exitCode: 2 }));
    try {
      resolveEnvironment(config(), 'staging', ci);
    } catch (error) {
      expect((error as { details: string[] }).details.join('\n')).toMatch(/environments\.staging\.namespace: .*at most 63/);
    }
    expect(resolveEnvironment(config(), 'staging', ciContext({ CI_COMMIT_REF_SLUG: 'main' })).namespace).toBe('shop-main');
  });

  test('{iid} outside review is refused even in a config that skipped validation', () => {
    const c = config();
    c.environments.staging!.namespace = 'ns-{iid}';
    expect(() => resolveEnvironment(c, 'staging', ciContext({ CI_MERGE_REQUEST_IID: '5' }))).toThrow(expect.objectContaining({ code: 'E_CONFIG_INVALID' }));
    c.environments.staging!.namespace = 'Hello_Staging';
    expect(() => resolveEnvironment(c, 'staging', ciContext())).toThrow(/environments\.staging\.namespace "Hello_Staging"/);
  });
});

describe('the Ingress host', () => {
  const config = () =>
    parseConfigText(base.replace('staging: { namespace: shop-staging }', 'staging: { domain: "{slug}.example.com" }'), 'gantry.yaml', { env: {} });

  test('a {slug} that makes the host invalid is an error naming the field', () => {
    expect(() => resolveEnvironment(config(), 'staging', ciContext({ CI_COMMIT_REF_SLUG: 'a'.repeat(250) }))).toThrow(/environments\.staging\.domain/);
    expect(resolveEnvironment(config(), 'staging', ciContext({ CI_COMMIT_REF_SLUG: 'main' })).domain).toBe('main.example.com');
  });

  test('a review target without a merge request is left to E_MR_MISSING', () => {
    expect(resolveEnvironment(config(), 'review', ciContext()).domain).toBe('mr-.example.com');
  });
});

test('an envFrom prefix is an env var name', () => {
  const text = `${base}\nbackend:\n  envFrom: [{ secret: db, prefix: "DB\\n" }]\n`;
  expect(problems(text).join('\n')).toMatch(/backend\.envFrom\.0\.prefix/);
  expect(problems(`${base}\nbackend:\n  envFrom: [{ secret: db, prefix: DB_ }]\n`)).toEqual([]);
});
