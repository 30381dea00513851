// Every command starts from the same resolved environment: deploy, history, rollback, scale,
// stop and doctor all find the app in the namespace render put it in.
import { parseConfigText } from '../../../src/config/load.js';
import { resolveEnvironment } from '../../../src/config/resolve.js';
import { previewNamespace } from '../../../src/names/names.js';
import { buildView } from '../../../src/render/view.js';
import { ciContext, digestImage, fullConfig } from '../../support/fixtures.js';

test('a named environment: its configured namespace, <app>-<env> as instance, labels, kubeconfig variable and track timeout', () => {
  const config = fullConfig();
  const t = resolveEnvironment(config, 'staging', ciContext());
  expect(t).toMatchObject({
    envName: 'staging',
    review: false,
    app: 'shop',
    instance: 'shop-staging',
    namespace: 'shop-staging',
    deployment: 'shop',
    kubeconfigVariable: 'KUBECONFIG_STAGING',
    replicas: 2,
    autoscale: undefined,
    domain: 'staging.shop.example.com',
    frontend: undefined,
    trackTimeoutSeconds: config.backend.progressDeadlineSeconds + 30,
  });
  expect(t.labels).toEqual({
    'app.kubernetes.io/name': 'shop',
    'app.kubernetes.io/instance': 'shop-staging',
    'app.kubernetes.io/managed-by': 'gantry',
    'gantry.dev/environment': 'staging',
  });
  expect(t.selector).toEqual({ 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/instance': 'shop-staging' });
});

test('production takes its own autoscale and resources over the backend defaults', () => {
  const t = resolveEnvironment(fullConfig(), 'production', ciContext());
  expect(t.namespace).toBe('shop');
  expect(t.autoscale).toMatchObject({ min: 3, max: 12 });
  expect(t.resources).toMatchObject({ requests: { cpu: '2', memory: '4Gi' } });
});

test('a preview lives in <app>-mr-<iid> and its domain placeholders are filled', () => {
  const t = resolveEnvironment(fullConfig(), 'review', ciContext({ CI_MERGE_REQUEST_IID: '17' }));
  expect(t.namespace).toBe('shop-mr-17');
  expect(t.namespace).toBe(previewNamespace('shop', '17'));
  expect(t.instance).toBe('shop-mr-17');
  expect(t.domain).toBe('mr-17.review.shop.example.com');
  expect(t.replicas).toBe(1);
  expect(t.kubeconfigVariable).toBe('KUBECONFIG_REVIEW');
});

test('a configured review namespace with placeholders, a configured kubeconfig variable and the frontend bucket', () => {
  const config = parseConfigText(
    [
      'app: web',
      'frontend: { bucket: web-assets, region: oss-cn-hangzhou, prefix: site }',
      'environments:',
      '  review: { namespace: "previews-{app}-{iid}", kubeconfig: ACK_REVIEW }',
    ].join('\n'),
    'gantry.yaml',
    { env: {} },
  );
  const t = resolveEnvironment(config, 'review', ciContext({ CI_MERGE_REQUEST_IID: '5' }));
  expect(t.namespace).toBe('previews-web-5');
  expect(t.kubeconfigVariable).toBe('ACK_REVIEW');
  expect(t.frontend).toEqual({ bucket: 'web-assets', region: 'oss-cn-hangzhou', endpoint: undefined, prefix: 'site', pathStyle: false });
});

test('an unknown environment is refused with the ones there are', () => {
  expect(() => resolveEnvironment(fullConfig(), 'qa', ciContext())).toThrow(
    expect.objectContaining({ code: 'E_ENV_UNKNOWN', message: '--env qa: no such environment in gantry.yaml' }),
  );
});

test('render places what the target says', () => {
  const ci = ciContext();
  const config = fullConfig();
  const target = resolveEnvironment(config, 'staging', ci);
  const view = buildView({ config, envName: 'staging', ci, image: digestImage, target });
  expect(view.environment.namespace).toBe(target.namespace);
  expect(view.labels).toEqual(target.labels);
  expect(view.selector).toEqual(target.selector);
  expect(view.replicas).toBe(target.replicas);
  expect(view.ingress?.host).toBe(target.domain);
});
