// The local cluster is real: an image built by the real Docker engine and pushed to the real
// registry runs as a 2-replica Deployment, answers through kube-proxy (ClusterIP and NodePort),
// and its logs come back through the API server and the kubelet.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { authRegistry, kubectl, kubectlResult, namespacedKubeconfig, nodeBaseImage, registry, registryAuth, requireCluster } from '../support/cluster.js';
import { dockerOk } from '../support/docker.js';

const ns = `gantry-e2e-${process.pid}`;
const image = `${registry}/e2e/hello-cluster:${process.pid}`;

async function httpGet(url: string, tries = 40): Promise<string> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return await r.text();
      last = new Error(`HTTP ${r.status}`);
    } catch (error) {
      last = error;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${url} did not answer: ${String(last)}`);
}

beforeAll(() => {
  requireCluster();
  kubectl(['create', 'namespace', ns]);
});

afterAll(() => {
  kubectlResult(['delete', 'namespace', ns, '--wait=false']);
});

test('an app built with docker and pushed to the local registry runs, answers via ClusterIP and NodePort, and logs', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gantry-cluster-app-'));
  writeFileSync(
    path.join(dir, 'server.js'),
    `require('http').createServer((q, s) => { console.log('request ' + q.url); s.end('hello from ' + require('os').hostname() + '\\n'); }).listen(8080, () => console.log('listening on 8080'));\n`,
  );
  writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${nodeBaseImage}\nCOPY server.js /app/server.js\nUSER 1000\nCMD ["node", "/app/server.js"]\n`);
  dockerOk(['build', '-q', '-t', image, dir]);
  execFileSync('docker', ['push', '-q', image], { stdio: 'pipe' });

  kubectl(['apply', '-n', ns, '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'hello' },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'hello' } },
            template: {
              metadata: { labels: { app: 'hello' } },
              spec: {
                containers: [
                  {
                    name: 'hello',
                    image,
                    ports: [{ containerPort: 8080 }],
                    readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                    resources: { requests: { cpu: '10m', memory: '32Mi' } },
                  },
                ],
              },
            },
          },
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'hello' },
          spec: { type: 'NodePort', selector: { app: 'hello' }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      ],
    }),
  });
  kubectl(['-n', ns, 'rollout', 'status', 'deployment/hello', '--timeout=120s']);
  const ready = JSON.parse(kubectl(['-n', ns, 'get', 'deployment', 'hello', '-o', 'json']));
  expect(ready.status.readyReplicas).toBe(2);

  const svc = JSON.parse(kubectl(['-n', ns, 'get', 'service', 'hello', '-o', 'json']));
  expect(await httpGet(`http://${svc.spec.clusterIP}:80/via-cluster-ip`)).toMatch(/^hello from hello-/);
  expect(await httpGet(`http://127.0.0.1:${svc.spec.ports[0].nodePort}/via-node-port`)).toMatch(/^hello from hello-/);

  const logs = kubectl(['-n', ns, 'logs', '-l', 'app=hello', '--prefix', '--tail=50']);
  expect(logs).toContain('listening on 8080');
  expect(logs).toMatch(/request \/via-(cluster-ip|node-port)/);
}, 240_000);

test('a namespaced ServiceAccount token can deploy in its namespace and nowhere else', () => {
  const kubeconfig = namespacedKubeconfig(ns);
  expect(kubectlResult(['auth', 'can-i', 'create', 'deployments', '-n', ns], { kubeconfig }).stdout.trim()).toBe('yes');
  expect(kubectlResult(['auth', 'can-i', 'list', 'pods', '-n', 'kube-system'], { kubeconfig }).stdout.trim()).toBe('no');
  const forbidden = kubectlResult(['get', 'pods', '-n', 'default'], { kubeconfig });
  expect(forbidden.code).not.toBe(0);
  expect(forbidden.stderr).toContain('forbidden');
  expect(kubectlResult(['get', 'deployments', '-n', ns], { kubeconfig }).code).toBe(0);
});

test('containerd pulls from the htpasswd registry with a pull secret, and fails without one', async () => {
  const { user, password } = registryAuth();
  const auth = { REGISTRY_USER: user, REGISTRY_PASSWORD: password };
  const privateImage = `${authRegistry}/e2e/private:${process.pid}`;
  const config = mkdtempSync(path.join(tmpdir(), 'gantry-docker-config-'));
  const docker = (args: string[], input?: string) => execFileSync('docker', ['--config', config, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] });
  docker(['login', '--username', auth.REGISTRY_USER, '--password-stdin', authRegistry], auth.REGISTRY_PASSWORD);
  docker(['tag', nodeBaseImage, privateImage]);
  docker(['push', '-q', privateImage]);

  kubectl([
    '-n',
    ns,
    'create',
    'secret',
    'docker-registry',
    'private-pull',
    `--docker-server=${authRegistry}`,
    `--docker-username=${auth.REGISTRY_USER}`,
    `--docker-password=${auth.REGISTRY_PASSWORD}`,
  ]);
  const pod = (name: string, secrets: { name: string }[]) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        imagePullSecrets: secrets,
        // Always: a node that already holds the image must still prove its right to pull it.
        containers: [{ name: 'c', image: privateImage, imagePullPolicy: 'Always', command: ['node', '-e', 'console.log("pulled with credentials")'] }],
      },
    });
  kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('with-secret', [{ name: 'private-pull' }]) });
  kubectl(['-n', ns, 'apply', '-f', '-'], { input: pod('without-secret', []) });
  kubectl(['-n', ns, 'wait', 'pod/with-secret', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=90s']);
  expect(kubectl(['-n', ns, 'logs', 'with-secret'])).toContain('pulled with credentials');
  let reason = '';
  for (let i = 0; i < 60 && !/ErrImagePull|ImagePullBackOff/.test(reason); i++) {
    reason = kubectl(['-n', ns, 'get', 'pod', 'without-secret', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting.reason}']);
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(reason).toMatch(/ErrImagePull|ImagePullBackOff/);
}, 180_000);
