import fc from 'fast-check';
import {
  dns1035Label,
  dnsLabel,
  environmentLabels,
  fillPlaceholders,
  instanceName,
  kubeconfigVariableName,
  labelValue,
  MANAGED_BY_LABEL,
  PREVIEW_NAMESPACE_TEMPLATE,
  previewNamespace,
  previewNamespaceNames,
  selectorLabels,
  slugify,
} from '../../../src/names/names.js';

const rfc1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('DNS-safe names', () => {
  test('any input becomes a valid DNS label of at most 63 characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (input) => {
        const name = dnsLabel(input);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name).toMatch(rfc1123);
        expect(dns1035Label(input)).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
      }),
      { numRuns: 2000 },
    );
  });

  test('a valid short name is kept as it is', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$/), (name) => expect(dnsLabel(name)).toBe(name)));
  });

  test('shortened names end in a hash of the original, so long names that share a prefix stay distinct', () => {
    const a = dnsLabel(`${'very-long-application-name-'.repeat(3)}feature-one`);
    const b = dnsLabel(`${'very-long-application-name-'.repeat(3)}feature-two`);
    expect(a).toHaveLength(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/-[a-f0-9]{6}$/);
    expect(dnsLabel('Shop_API v2!')).toBe('shop-api-v2');
    expect(dnsLabel('Shop__API--v2')).toBe('shop-api--v2');
    expect(dnsLabel('---')).toMatch(/^x-[a-f0-9]{6}$/);
    expect(dns1035Label('2fast')).toBe('x-2fast');
  });

  test('label values and ref slugs follow Kubernetes and GitLab rules', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (input) => {
        const v = labelValue(input);
        expect(v.length).toBeLessThanOrEqual(63);
        expect(v).toMatch(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/);
      }),
    );
    expect(slugify('Feature/JIRA-12_new UI')).toBe('feature-jira-12-new-ui');
    expect(slugify('x'.repeat(80))).toHaveLength(63);
    // One "-" per character, as GitLab does (gitlab-ci-local merges runs; GitLab does not).
    expect(slugify('fix//a__b')).toBe('fix--a--b');
    expect(slugify('_Release/1.2_')).toBe('release-1-2');
    expect(slugify(`${'a'.repeat(62)}/b`)).toBe('a'.repeat(62));
  });
});

describe('preview namespaces', () => {
  test('<app>-mr-<iid>, as the default template of a review namespace makes it', () => {
    expect(previewNamespace('shop', '17')).toBe('shop-mr-17');
    expect(previewNamespace('shop', '17')).toBe(dnsLabel(fillPlaceholders(PREVIEW_NAMESPACE_TEMPLATE, { app: 'shop', iid: '17', slug: '', env: 'review' })));
    expect(instanceName('shop', 'review', '17')).toBe('shop-mr-17');
    expect(instanceName('shop', 'staging', undefined)).toBe('shop-staging');
  });

  test('a namespace maps back to its merge request only when the template makes exactly that name', () => {
    const names = previewNamespaceNames('shop', 'previews-{app}-{iid}')!;
    expect(names.nameOf('5')).toBe('previews-shop-5');
    expect(names.iidOf('previews-shop-5')).toBe('5');
    expect(names.iidOf('previews-other-5')).toBeUndefined();
    expect(names.iidOf('previews-shop-05')).toBeUndefined();
    expect(previewNamespaceNames('shop', '{app}-{slug}-{iid}')).toBeUndefined();
    expect(previewNamespaceNames('shop', 'shop-previews')).toBeUndefined();
  });
});

test('the kubeconfig variable: the configured one, else KUBECONFIG_<ENV>', () => {
  expect(kubeconfigVariableName('review-apps')).toBe('KUBECONFIG_REVIEW_APPS');
  expect(kubeconfigVariableName('production', 'ACK_PROD')).toBe('ACK_PROD');
});

test('environment labels and selector', () => {
  expect(environmentLabels('shop', 'shop-mr-3', 'review')).toEqual({
    'app.kubernetes.io/name': 'shop',
    'app.kubernetes.io/instance': 'shop-mr-3',
    [MANAGED_BY_LABEL]: 'gantry',
    'gantry.dev/environment': 'review',
  });
  expect(selectorLabels('shop', 'shop-mr-3')).toEqual({ 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/instance': 'shop-mr-3' });
});
