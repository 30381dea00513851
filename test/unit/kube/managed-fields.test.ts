import { extractOwned, ownedFields } from '../../../src/kube/managed-fields.js';
import type { ManagedFieldsEntry } from '../../../src/kube/objects.js';

// As the v1.31 API server recorded them for `kubectl apply --server-side --field-manager=gantry`
// of a Deployment, followed by the deployment controller's status update.
const managedFields: ManagedFieldsEntry[] = [
  {
    manager: 'gantry',
    operation: 'Apply',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': { 'f:annotations': { 'f:gantry.dev/commit': {} }, 'f:labels': { 'f:app.kubernetes.io/name': {} } },
      'f:spec': {
        'f:replicas': {},
        'f:selector': {},
        'f:template': {
          'f:metadata': { 'f:annotations': { 'f:gantry.dev/config-checksum': {} }, 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:containers': {
              'k:{"name":"web"}': {
                '.': {},
                'f:args': {},
                'f:env': { 'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} } },
                'f:image': {},
                'f:name': {},
                'f:ports': { 'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {}, 'f:protocol': {} } },
                'f:resources': { 'f:requests': { 'f:cpu': {} } },
              },
            },
          },
        },
      },
    },
  },
  {
    manager: 'kube-controller-manager',
    operation: 'Update',
    subresource: 'status',
    fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } }, 'f:status': { 'f:observedGeneration': {} } },
  },
  { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } } } },
];

// The live object: Gantry's fields plus defaults, other managers' fields and status.
const live = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'hello',
    uid: 'u-1',
    resourceVersion: '42',
    labels: { 'app.kubernetes.io/name': 'web', team: 'payments' },
    annotations: { 'gantry.dev/commit': 'aaa', 'deployment.kubernetes.io/revision': '3' },
    managedFields,
  },
  spec: {
    replicas: 0,
    revisionHistoryLimit: 10,
    selector: { matchLabels: { app: 'web' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      metadata: { labels: { app: 'web' }, annotations: { 'gantry.dev/config-checksum': 'c1' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'registry/app:1',
            args: ['node', '-e', '1'],
            env: [
              { name: 'A', value: '1' },
              { name: 'INJECTED', value: 'by a webhook' },
            ],
            ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }],
            resources: { requests: { cpu: '10m' } },
            terminationMessagePath: '/dev/termination-log',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        dnsPolicy: 'ClusterFirst',
        restartPolicy: 'Always',
      },
    },
  },
  status: { observedGeneration: 3, replicas: 0 },
};

describe('the fields a manager owns, read from managedFields', () => {
  test("extracting Gantry's Apply fields gives back exactly what Gantry applied", () => {
    const owned = ownedFields(managedFields, 'gantry')!;
    expect(extractOwned(live, owned)).toEqual({
      metadata: { labels: { 'app.kubernetes.io/name': 'web' }, annotations: { 'gantry.dev/commit': 'aaa' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { 'gantry.dev/config-checksum': 'c1' } },
          spec: {
            containers: [
              {
                name: 'web',
                image: 'registry/app:1',
                args: ['node', '-e', '1'],
                env: [{ name: 'A', value: '1' }],
                ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }],
                resources: { requests: { cpu: '10m' } },
              },
            ],
          },
        },
      },
    });
  });

  test('Update entries, subresources and other managers are not Gantry-owned; no entry means nothing owned', () => {
    expect(ownedFields(managedFields, 'kubectl-edit')).toBeUndefined();
    expect(ownedFields(managedFields, 'kube-controller-manager')).toBeUndefined();
    expect(ownedFields(undefined, 'gantry')).toBeUndefined();
  });

  test('set items (v:) and indexed items (i:) are picked by value and position; the result is a copy', () => {
    const value = { finalizers: ['a', 'b', 'c'], list: [{ x: 1 }, { x: 2 }] };
    const fields = { 'f:finalizers': { 'v:"c"': {}, 'v:"a"': {} }, 'f:list': { 'i:1': { 'f:x': {} } } };
    const out = extractOwned(value, fields) as typeof value;
    expect(out).toEqual({ finalizers: ['a', 'c'], list: [{ x: 2 }] });
    out.finalizers.push('mutated');
    expect(value.finalizers).toEqual(['a', 'b', 'c']);
  });
});
