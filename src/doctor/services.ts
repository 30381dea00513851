// gantry doctor's services row (#14): the same reachability check deploy runs before a rollout,
// from a short-lived pod in the namespace. Doctor changes nothing, so the pod gets only hosts and
// ports (never a password): a managed service's from its URL (the CI variable, or the Secret
// named), an instance's from the service-link variables of its Service, when it exists.
import type { KubeConfig, V1EnvVar } from '@kubernetes/client-node';
import type { Config } from '../config/schema.js';
import type { Ctx } from '../context.js';
import { kubeClient } from '../kube/client.js';
import type { Deployment } from '../kube/objects.js';
import { planServices, urlParts } from '../services/plan.js';
import type { CheckRow } from './checks.js';

interface SecretObject {
  data?: Record<string, string>;
}

export interface ServicesCheckInput {
  config: Config;
  envName: string;
  namespace: string;
  deployment: string;
  labels: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** GANTRY_IMAGE when set: the image the check runs with (else the running Deployment's). */
  image: string | undefined;
  pullSecrets: { name: string }[];
}

export async function checkServicesFromNamespace(ctx: Ctx, kc: KubeConfig, input: ServicesCheckInput): Promise<CheckRow[]> {
  const plans = planServices(input.config, input.envName);
  if (plans.length === 0) return [];
  const client = kubeClient(ctx, kc);
  const rows: CheckRow[] = [];
  const env: V1EnvVar[] = [];
  const targets: { service: string; kind: string; hostVar?: string; portVar?: string; urlVar?: string }[] = [];
  for (const [i, plan] of plans.entries()) {
    const check = `service ${plan.name} (${plan.kind})`;
    const hostVar = `GANTRY_CHECK_${i}_HOST`;
    const portVar = `GANTRY_CHECK_${i}_PORT`;
    if (plan.binding === 'instance') {
      const service = await client.read({ apiVersion: 'v1', kind: 'Service', name: plan.instanceName!, namespace: input.namespace });
      if (!service) {
        rows.push({ check, status: 'skip', detail: `instance ${plan.instanceName} is not there yet: the first deploy makes it` });
        continue;
      }
      env.push({ name: hostVar, value: `$(${plan.serviceLinkPrefix}_SERVICE_HOST)` }, { name: portVar, value: `$(${plan.serviceLinkPrefix}_SERVICE_PORT)` });
    } else {
      let url: string | undefined;
      let where = '';
      if (typeof plan.bind === 'object' && 'variable' in plan.bind) {
        where = `the CI variable ${plan.bind.variable}`;
        url = input.env[plan.bind.variable];
      } else if (typeof plan.bind === 'object' && 'secret' in plan.bind) {
        where = `Secret ${plan.bind.secret} key ${plan.bind.key}`;
        const secret = await client.read<SecretObject>({ apiVersion: 'v1', kind: 'Secret', name: plan.bind.secret, namespace: input.namespace });
        const raw = secret?.data?.[plan.bind.key];
        url = raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8');
      }
      if (!url) {
        rows.push({ check, status: 'fail', detail: `${where} is not set`, fix: `set ${where} to the database's VPC URL` });
        continue;
      }
      ctx.logger.addSecret(url);
      let parts: ReturnType<typeof urlParts>;
      try {
        parts = urlParts(plan, url, where);
      } catch (error) {
        rows.push({ check, status: 'fail', detail: (error as Error).message, fix: (error as { fix?: string }).fix });
        continue;
      }
      if (parts.password) ctx.logger.addSecret(parts.password);
      if (plan.kind === 'mongodb') {
        // A replica set's members or an SRV record: the check reads the URL, given without its
        // user and password.
        const urlVar = `GANTRY_CHECK_${i}_URL`;
        env.push({ name: urlVar, value: url.replace(/^(mongodb(?:\+srv)?:\/\/)[^@/]*@/, '$1') });
        targets.push({ service: plan.name, kind: plan.kind, urlVar });
        continue;
      }
      env.push({ name: hostVar, value: parts.host! }, { name: portVar, value: parts.port! });
    }
    targets.push({ service: plan.name, kind: plan.kind, hostVar, portVar });
  }
  if (targets.length === 0) return rows;
  const image =
    input.image ||
    (await client.read<Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: input.deployment, namespace: input.namespace }))?.spec?.template?.spec
      ?.containers?.[0]?.image;
  if (!image) {
    rows.push({
      check: 'services from the namespace',
      status: 'skip',
      detail: 'no image to run the check with (a Node image): set GANTRY_IMAGE, or deploy once',
    });
    return rows;
  }
  const { checkReachable, unreachableError } = await import('../services/reach.js');
  const result = await checkReachable(ctx, kc, {
    namespace: input.namespace,
    image,
    imagePullSecrets: input.pullSecrets,
    env,
    envFrom: [],
    targets,
    labels: input.labels,
  });
  for (const t of targets) {
    const mine = result.results.filter((r) => r.service === t.service);
    const bad = mine.filter((r) => !r.ok);
    const check = `service ${t.service} (${t.kind})`;
    if (bad.length === 0) {
      rows.push({
        check,
        status: 'pass',
        detail: `${mine.map((r) => `${r.host}:${r.port}`).join(', ')} answers from ${input.namespace} (${Math.max(...mine.map((r) => r.ms))} ms)`,
      });
    } else {
      rows.push({
        check,
        status: 'fail',
        detail: `${bad.map((r) => `${r.host}:${r.port} ${r.code ?? 'failed'}`).join(', ')}; the check pod ${result.podIP} (pods' CIDR ${result.podCidr ?? 'unknown'})`,
        fix: unreachableError({ ...result, results: mine })?.fix,
        code: 'E_SERVICE_UNREACHABLE',
      });
    }
  }
  return rows;
}
