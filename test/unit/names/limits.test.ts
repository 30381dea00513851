// The rules Kubernetes' API server applies to names, keys and sizes (k8s.io/apimachinery
// pkg/util/validation), checked the same way before anything is applied.
import {
  annotationBytes,
  byteSize,
  dataBytes,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  INT32_MAX,
  labelValueProblem,
  MAX_ANNOTATIONS_BYTES,
  MAX_DATA_BYTES,
  qualifiedNameProblem,
} from '../../../src/names/limits.js';
import { namespaceProblem, placeholderProblem } from '../../../src/names/names.js';

describe("Kubernetes' limits", () => {
  test('the numbers are those of the API server', () => {
    expect(INT32_MAX).toBe(2 ** 31 - 1);
    expect(MAX_DATA_BYTES).toBe(1048576);
    expect(MAX_ANNOTATIONS_BYTES).toBe(262144);
    expect(byteSize(MAX_DATA_BYTES)).toBe('1 MiB');
    expect(byteSize(MAX_ANNOTATIONS_BYTES)).toBe('256 KiB');
  });

  test.each(['a', 'hello-staging', '0abc', 'a'.repeat(63)])('%p is a DNS-1123 label', (name) => {
    expect(dns1123LabelProblem(name)).toBeUndefined();
  });
  test.each(['', 'Hello', 'hello_staging', '-a', 'a-', 'a.b', 'a\n', 'a'.repeat(64)])('%p is not a DNS-1123 label', (name) => {
    expect(dns1123LabelProblem(name)).toMatch(/DNS-1123 label|at most 63/);
  });

  test.each(['nginx', 'alb', 'a.b-c.d', 'a'.repeat(253)])('%p is a DNS-1123 subdomain', (name) => {
    expect(dns1123SubdomainProblem(name)).toBeUndefined();
  });
  test.each(['', 'nginx\nx', 'Nginx', 'a..b', '.a', 'a.', 'a'.repeat(254)])('%p is not a DNS-1123 subdomain', (name) => {
    expect(dns1123SubdomainProblem(name)).toMatch(/DNS-1123 subdomain|at most 253/);
  });

  test.each(['owner', 'example.com/owner', 'a_b.c-d', 'A', `${'p'.repeat(253)}/${'n'.repeat(63)}`, 'kubernetes.io/change-cause'])(
    '%p is a qualified name',
    (key) => {
      expect(qualifiedNameProblem(key)).toBeUndefined();
    },
  );
  test.each([
    ['', /name part is empty/],
    ['/x', /prefix before "\/" is empty/],
    ['a/b/c', /more than one "\/"/],
    ['bad key', /qualified name/],
    ['x\n', /qualified name/],
    ['_x', /qualified name/],
    ['x.', /qualified name/],
    ['Example.com/x', /prefix "Example.com"/],
    [`${'p'.repeat(254)}/x`, /at most 253/],
    ['n'.repeat(64), /64 characters, at most 63/],
  ])('%p is not a qualified name', (key, why) => {
    expect(qualifiedNameProblem(key)).toMatch(why);
  });

  test('label values: empty or at most 63 alphanumeric-bounded characters', () => {
    expect(labelValueProblem('')).toBeUndefined();
    expect(labelValueProblem('staging_1.x')).toBeUndefined();
    expect(labelValueProblem('-x')).toBeDefined();
    expect(labelValueProblem('a'.repeat(64))).toMatch(/at most 63/);
  });

  test('sizes count UTF-8 bytes as the API server does: values for data, keys and values for annotations', () => {
    expect(dataBytes({ KEY: 'é' })).toBe(2);
    expect(dataBytes([['K', 'ab']])).toBe(2);
    expect(annotationBytes({ ab: 'é' })).toBe(4);
  });

  test('a namespace is never rewritten: the problem says why and what it could be', () => {
    expect(namespaceProblem('hello-staging')).toBeUndefined();
    expect(namespaceProblem('Hello_Staging')).toEqual({ why: expect.stringMatching(/DNS-1123 label/), suggestion: 'hello-staging' });
  });

  test('{iid} is only filled in the review environment', () => {
    expect(placeholderProblem('ns-{iid}', 'staging')).toMatch(/only known in the review environment; on staging/);
    expect(placeholderProblem('ns-{iid}', 'review')).toBeUndefined();
    expect(placeholderProblem('{app}-{env}-{slug}', 'staging')).toBeUndefined();
  });
});
