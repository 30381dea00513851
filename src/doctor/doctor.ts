// gantry doctor as a flow: is everything an environment's deploy needs in place? gantry.yaml,
// the CI variables, the registry login, the cluster and the deployer's rights in the namespace,
// OSS and the GitLab token. Read-only: it reports, it changes nothing.
import path from 'node:path';
import { ciContextFromEnv } from '../ci/context.js';
import { ciVariables } from '../ci/variables.js';
import { type EnvironmentSource, loadConfigOf } from '../config/load.js';
import { resolveEnvironment } from '../config/resolve.js';
import { maskEnvSecrets } from '../context.js';
import type { Ctx } from '../context.js';
import { INSTANCE_LABEL, MANAGED_BY_LABEL } from '../kube/objects.js';
import { failedRow, formatTable, masked, runCheck, type CheckRow } from './checks.js';

export type DoctorInput = EnvironmentSource;

export interface DoctorResult {
  environment: string;
  namespace: string;
  ok: boolean;
  failed: number;
  warnings: number;
  checks: CheckRow[];
}

export async function runDoctor(ctx: Ctx, input: DoctorInput): Promise<DoctorResult> {
  // A review environment has one namespace per merge request: without one, MR 1 stands for them all.
  const noMr = input.envName === 'review' && !ciVariables(input.env).predefined.mergeRequestIid;
  const env = noMr ? { ...input.env, CI_MERGE_REQUEST_IID: '1' } : input.env;
  const { gantry } = ciVariables(env);
  const { envName } = input;
  const cwd = path.resolve(input.cwd);

  // A configuration that does not load is bad input (exit 2), with every problem listed.
  const { config, file } = await loadConfigOf(input);
  const target = resolveEnvironment(config, envName, ciContextFromEnv(env));
  const { kubeconfigVariable: kcVar, namespace } = target;
  const rows: CheckRow[] = [
    {
      check: 'gantry.yaml',
      status: 'pass',
      detail: `${path.relative(cwd, file) || file} is valid: app ${config.app}, environments ${Object.keys(config.environments).join(', ')}`,
    },
  ];
  ctx.logger.info(`gantry doctor: environment ${envName}, namespace ${namespace}${noMr ? ' (merge request 1 stands for every preview; pass --mr)' : ''}`);

  const [
    kube,
    { checkRegistryLogin },
    { checkOssAccess },
    { checkGitlabToken },
    { checkPermissions, serverVersion, missingRule, resourceName, DEPLOY_PERMISSIONS, servicePermissions },
  ] = await Promise.all([
    import('../kube/index.js'),
    import('../image/registry-check.js'),
    import('../oss/check.js'),
    import('../gitlab/check.js'),
    import('../kube/access.js'),
  ]);

  // CI variables: present (and the kubeconfig usable) before anything is called.
  const missing = (names: string[]) => names.filter((n) => !env[n]?.trim());
  const variableRow = (check: string, names: string[], fix: string, asWarning = false): CheckRow => {
    const absent = missing(names);
    if (absent.length === 0) return { check, status: 'pass', detail: `${names.join(', ')} set` };
    return { check, status: asWarning ? 'warn' : 'fail', detail: `${absent.join(', ')} not set`, fix };
  };
  // The secret-named variables of the env handed in (a copy of ctx.env, or another one) are masked like ctx.env's.
  if (input.env !== ctx.env) maskEnvSecrets(ctx.logger, input.env);

  const registryVars = config.registry
    ? variableRow(
        'variables: registry',
        ['GANTRY_REGISTRY_USER', 'GANTRY_REGISTRY_PASSWORD'],
        'add the masked CI/CD variables GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD (ACR: the registry login password)',
      )
    : undefined;
  if (registryVars) rows.push(registryVars);

  let kc: ReturnType<typeof kube.decodeKubeconfig>['kc'] | undefined;
  try {
    const decoded = kube.decodeKubeconfig(kcVar, env[kcVar]);
    for (const secret of decoded.secrets) ctx.logger.addSecret(secret);
    kc = decoded.kc;
    rows.push({
      check: 'variables: kubeconfig',
      status: 'pass',
      detail: `${kcVar}: context ${kc.getCurrentContext()}, server ${kc.getCurrentCluster()?.server ?? '?'}`,
    });
  } catch (error) {
    rows.push(failedRow('variables: kubeconfig', error));
  }

  const ossVars = config.frontend
    ? variableRow(
        'variables: OSS',
        ['GANTRY_OSS_ACCESS_KEY_ID', 'GANTRY_OSS_ACCESS_KEY_SECRET'],
        'add the masked CI/CD variables GANTRY_OSS_ACCESS_KEY_ID and GANTRY_OSS_ACCESS_KEY_SECRET (a RAM user that may write to the bucket)',
      )
    : undefined;
  if (ossVars) rows.push(ossVars);
  if (config.environments.review) {
    rows.push(
      variableRow(
        'variables: GitLab token',
        ['GANTRY_GITLAB_TOKEN'],
        'merge request notes need it: create a project access token (role Developer, scope api) and store it as the masked CI/CD variable GANTRY_GITLAB_TOKEN',
        true,
      ),
    );
  }

  // The outside world, each check under its own timeout, in parallel.
  const skip = (check: string, detail: string): CheckRow[] => [{ check, status: 'skip', detail }];
  const registryCheck = !config.registry
    ? Promise.resolve(skip('registry login', 'no registry in gantry.yaml'))
    : registryVars?.status !== 'pass'
      ? Promise.resolve(skip('registry login', 'no credentials (see above)'))
      : runCheck(ctx, 'registry login', async (c) => {
          const r = await checkRegistryLogin(c, { host: config.registry!.pushHost, user: gantry.registryUser!, password: gantry.registryPassword! });
          return {
            check: 'registry login',
            status: 'pass',
            detail: `${config.registry!.pushHost} accepts ${gantry.registryUser} (${r.scheme === 'bearer' ? 'token' : 'basic'} auth)`,
          };
        });

  const clusterCheck = !kc
    ? Promise.resolve(skip('cluster', 'no usable kubeconfig (see above)'))
    : (async () => {
        // One attempt per request, bounded by the deadlines; the check's own limit only backs them
        // up, so a silent server reads as E_KUBE_UNREACHABLE with its address and the wait.
        const clusterLimitMs = ctx.deadlines.requestMs + 2000;
        const reach = await runCheck(
          ctx,
          'cluster',
          async (c) => {
            const v = await serverVersion(c, kc);
            return { check: 'cluster', status: 'pass', detail: `${v.server} answers: Kubernetes ${v.version}` };
          },
          clusterLimitMs,
        );
        if (reach[0]!.status !== 'pass') return reach;
        const permissions = await runCheck(
          ctx,
          `permissions in ${namespace}`,
          async (c) => {
            const { planServices } = await import('../services/plan.js');
            const plans = planServices(config, envName);
            const uses = {
              services: plans.length > 0,
              instances: plans.some((p) => p.binding === 'instance'),
              jobs: config.backend.migrate !== undefined || plans.some((p) => p.binding === 'instance' && p.seed && 'command' in p.seed),
            };
            const results = await checkPermissions(c, kc, namespace, [...DEPLOY_PERMISSIONS, ...servicePermissions(uses)]);
            return results.map((r): CheckRow => {
              const what = `${r.permission.clusterScoped ? '' : `${namespace}: `}${resourceName(r.permission)}`;
              if (r.denied.length === 0) return { check: `may ${r.permission.verbs.join('/')} ${what}`, status: 'pass', detail: r.permission.why };
              const denied = r.denied.map((d) => d.verb).join('/');
              return {
                check: `may ${r.permission.verbs.join('/')} ${what}`,
                status: r.permission.optional ? 'warn' : 'fail',
                detail: `denied: ${denied} (${r.permission.why})`,
                fix: r.permission.clusterScoped
                  ? `create the namespace ${namespace} once (kubectl create namespace ${namespace}), or bind a ClusterRole with { apiGroups: [""], resources: ["namespaces"], verbs: ["create"] } to the deployer`
                  : `grant the kubeconfig's user in ${namespace} a Role rule ${missingRule([r])} (kubectl auth can-i ${r.denied[0]!.verb} ${resourceName(r.permission)} -n ${namespace} confirms it)`,
              };
            });
          },
          clusterLimitMs,
        );
        // #14: every service answers from the namespace (the check deploy runs before a rollout).
        const { checkServicesFromNamespace } = await import('./services.js');
        const serviceRows =
          Object.keys(config.services).length === 0
            ? []
            : await runCheck(
                ctx,
                'services from the namespace',
                (c) =>
                  checkServicesFromNamespace(c, kc, {
                    config,
                    envName,
                    namespace,
                    deployment: target.deployment,
                    // Not the app's name label: the app's Service would send traffic to the check pod.
                    labels: { [MANAGED_BY_LABEL]: 'gantry', [INSTANCE_LABEL]: target.instance },
                    env,
                    image: gantry.image || undefined,
                    pullSecrets: config.registry ? [{ name: config.registry.pullSecret }] : [],
                  }),
                // The check pod may first pull the image; its own bound is 2 minutes.
                130_000,
              );
        return [...reach, ...permissions, ...serviceRows];
      })();

  const fe = config.frontend;
  const ossCheck = !fe
    ? Promise.resolve(skip('OSS', 'no frontend in gantry.yaml'))
    : ossVars?.status !== 'pass'
      ? Promise.resolve(skip('OSS', 'no key pair (see above)'))
      : runCheck(ctx, 'OSS', async (c) => {
          const prefix = fe.prefix && !fe.prefix.endsWith('/') ? `${fe.prefix}/` : fe.prefix;
          const r = await checkOssAccess(
            c,
            {
              bucket: fe.bucket,
              region: fe.region,
              endpoint: fe.endpoint,
              pathStyle: fe.pathStyle,
              accessKeyId: gantry.ossAccessKeyId!,
              accessKeySecret: gantry.ossAccessKeySecret!,
            },
            prefix,
          );
          return { check: 'OSS', status: 'pass', detail: `${r.bucket}/${r.prefix} can be listed with GANTRY_OSS_ACCESS_KEY_ID (${fe.endpoint ?? fe.region})` };
        });

  const gitlabCheck = !gantry.gitlabToken?.trim()
    ? Promise.resolve(skip('GitLab token', 'GANTRY_GITLAB_TOKEN not set'))
    : runCheck(ctx, 'GitLab token', async (c) => {
        const r = await checkGitlabToken(c, env);
        return { check: 'GitLab token', status: 'pass', detail: `${r.host} accepts GANTRY_GITLAB_TOKEN (${r.checked})` };
      });

  for (const group of await Promise.all([registryCheck, clusterCheck, ossCheck, gitlabCheck])) rows.push(...group);
  const all = masked(ctx, rows);
  const failed = all.filter((r) => r.status === 'fail').length;
  const warnings = all.filter((r) => r.status === 'warn').length;
  ctx.logger.info(formatTable(all));
  ctx.logger.info(
    failed === 0
      ? `all checks passed${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`
      : `${failed} check${failed === 1 ? '' : 's'} failed: see the fix under each`,
  );
  return { environment: envName, namespace, ok: failed === 0, failed, warnings, checks: all };
}
