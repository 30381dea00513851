import { ApiException } from '@kubernetes/client-node';
import { GantryError } from '../../../src/errors.js';
import { isTransient, kubeError } from '../../../src/kube/failures.js';

// Status bodies as the v1.31 API server sends them (captured from the local cluster).
const status = (code: number, reason: string, message: string) =>
  new ApiException(
    code,
    'Unsuccessful HTTP Request',
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }),
    {},
  );

const server = 'https://10.0.0.1:6443';

describe('API failures in Gantry terms', () => {
  test('403 names who may not do what where, and the RBAC rule that fixes it', () => {
    const e = kubeError(
      'apply role/deployer',
      status(
        403,
        'Forbidden',
        'roles.rbac.authorization.k8s.io "deployer" is forbidden: User "system:serviceaccount:hello-staging:gantry-deployer" cannot patch resource "roles" in API group "rbac.authorization.k8s.io" in the namespace "hello-staging"',
      ),
      server,
    );
    expect(e.code).toBe('E_KUBE_FORBIDDEN');
    expect(e.message).toBe(
      'apply role/deployer: system:serviceaccount:hello-staging:gantry-deployer may not patch roles.rbac.authorization.k8s.io in namespace hello-staging',
    );
    expect(e.fix).toContain('kubectl -n hello-staging create role gantry-deployer --verb=patch --resource=roles.rbac.authorization.k8s.io');
    expect(e.fix).toContain('--serviceaccount=hello-staging:gantry-deployer');
  });

  test('403 on a cluster-scoped resource asks for a ClusterRole', () => {
    const e = kubeError(
      'create namespace/hello-mr-7',
      status(
        403,
        'Forbidden',
        'namespaces is forbidden: User "system:serviceaccount:ci:deployer" cannot create resource "namespaces" in API group "" at the cluster scope',
      ),
      server,
    );
    expect(e.message).toBe('create namespace/hello-mr-7: system:serviceaccount:ci:deployer may not create namespaces cluster-wide');
    expect(e.fix).toContain('ClusterRole');
    expect(e.fix).toContain('--verb=create --resource=namespaces');
  });

  test('401, 404, 422 and plain errors keep what was being done in front', () => {
    expect(kubeError('get deployment/web', status(401, 'Unauthorized', 'Unauthorized'), server)).toMatchObject({ code: 'E_KUBE_UNAUTHORIZED' });
    expect(kubeError('get deployment/web', status(404, 'NotFound', 'deployments.apps "web" not found'), server)).toMatchObject({
      code: 'E_KUBE_NOT_FOUND',
      message: 'get deployment/web: deployments.apps "web" not found',
    });
    const invalid = kubeError('apply deployment/web', status(422, 'Invalid', 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1'), server);
    expect(invalid).toMatchObject({ code: 'E_KUBE_API', message: 'apply deployment/web: Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1' });
    expect(invalid.details).toEqual(['HTTP 422 Invalid']);
    expect(kubeError('apply foo/x', new Error('Unrecognized API version and kind: v1 Foo'), server)).toMatchObject({
      code: 'E_KUBE_API',
      message: 'apply foo/x: Unrecognized API version and kind: v1 Foo',
    });
    const discovery = status(404, 'NotFound', 'the server could not find the requested resource');
    discovery.message = `Failed to fetch resource metadata for networking.k8s.oi/v1/Ingress: ${discovery.message}`; // as client-node rewrites it
    expect(kubeError('apply ingress/web', discovery, server)).toMatchObject({
      code: 'E_KUBE_API',
      message: 'apply ingress/web: the cluster does not serve networking.k8s.oi/v1 (no Ingress there)',
    });
    const already = new GantryError('E_APPLY_INVALID', 'kept as is');
    expect(kubeError('x', already, server)).toBe(already);
  });

  test('network failures and timeouts are E_KUBE_UNREACHABLE and transient; TLS failures are not retried', () => {
    const refused = Object.assign(new Error('request to https://10.0.0.1:6443/api/v1 failed, reason: connect ECONNREFUSED 10.0.0.1:6443'), {
      code: 'ECONNREFUSED',
      type: 'system',
    });
    const timeout = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError', type: 'aborted' });
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(kubeError('list pods', refused, server)).toMatchObject({
      code: 'E_KUBE_UNREACHABLE',
      message: 'list pods: cannot reach the Kubernetes API server at https://10.0.0.1:6443 (ECONNREFUSED)',
    });
    expect(kubeError('list pods', timeout, server).message).toContain('(timed out)');
    expect(kubeError('list pods', tls, server)).toMatchObject({ code: 'E_KUBE_UNREACHABLE' });
    expect(kubeError('list pods', tls, server).fix).toContain('certificate-authority-data');
    expect(isTransient(refused)).toBe(true);
    expect(isTransient(timeout)).toBe(true);
    expect(isTransient(tls)).toBe(false);
    const cancelled = new AbortController();
    cancelled.abort();
    expect(isTransient(refused, cancelled.signal)).toBe(false);
  });

  test('overload and server errors are transient; refusals are not', () => {
    for (const code of [429, 500, 502, 503, 504]) expect(isTransient(status(code, 'x', 'x'))).toBe(true);
    for (const code of [400, 401, 403, 404, 409, 422]) expect(isTransient(status(code, 'x', 'x'))).toBe(false);
    // What server-side apply answers for a field the schema lacks: 500, but no use retrying.
    const unknownField = status(500, '', 'failed to create typed patch object (ns/web; /v1, Kind=Service): .spec.portz: field not declared in schema');
    expect(isTransient(unknownField)).toBe(false);
    expect(kubeError('validate service/web', unknownField, server)).toMatchObject({ code: 'E_KUBE_API' });
  });
});
