// One environment of gantry.yaml resolved for a run: where its app lives and what it is called.
// Every command starts from this target, so deploy, history, rollback, scale, stop and doctor
// agree on the namespace, names, labels and kubeconfig variable instead of each working them out.
import type { CiContext } from '../ci/context.js';
import { dns1123SubdomainProblem } from '../names/limits.js';
import { gantryError } from '../errors.js';
import {
  environmentLabels,
  fillPlaceholders,
  instanceName,
  kubeconfigVariableName,
  namespaceProblem,
  placeholderProblem,
  selectorLabels,
} from '../names/names.js';
import type { Autoscale, Config, EnvironmentConfig, Resources } from './schema.js';

/** The bucket the frontend is published to, as gantry.yaml's frontend names it. */
export interface FrontendTarget {
  bucket: string;
  region?: string | undefined;
  endpoint?: string | undefined;
  prefix?: string | undefined;
  pathStyle?: boolean | undefined;
}

export interface EnvironmentTarget {
  envName: string;
  /** The environment's block of gantry.yaml. */
  env: EnvironmentConfig;
  review: boolean;
  app: string;
  /** app.kubernetes.io/instance: <app>-<env>, or the preview's <app>-mr-<iid>. */
  instance: string;
  /** environments.<env>.namespace with its placeholders filled, else the instance name. */
  namespace: string;
  deployment: string;
  labels: Record<string, string>;
  selector: Record<string, string>;
  /** The CI variable holding the cluster's kubeconfig. */
  kubeconfigVariable: string;
  /** The environment's replicas, else backend.replicas (an HPA overrides both when autoscale is set). */
  replicas: number;
  autoscale: Autoscale | undefined;
  resources: Resources;
  /** How long a rollout is tracked by default: past the Deployment's own progress deadline. */
  trackTimeoutSeconds: number;
  /** The Ingress host, placeholders filled; undefined without a domain. */
  domain: string | undefined;
  frontend: FrontendTarget | undefined;
  /** Fills {app}, {iid}, {slug} and {env} as this environment's names do. */
  placeholders: (text: string) => string;
}

/** gantry.yaml's frontend bucket settings, or undefined without a frontend. */
export function frontendTarget(config: Config): FrontendTarget | undefined {
  const f = config.frontend;
  return f ? { bucket: f.bucket, region: f.region, endpoint: f.endpoint, prefix: f.prefix, pathStyle: f.pathStyle } : undefined;
}

export function resolveEnvironment(config: Config, envName: string, ci: CiContext): EnvironmentTarget {
  // An own property only: --env constructor or toString is no environment (issue #13).
  const env = Object.hasOwn(config.environments, envName) ? config.environments[envName] : undefined;
  if (!env) {
    // An inherited name cannot be added either: gantry.yaml refuses it as a key.
    const inherited = envName in {} || envName === 'prototype';
    throw gantryError('E_ENV_UNKNOWN', { envName, known: Object.keys(config.environments), offerToAdd: !inherited });
  }
  const app = config.app;
  const placeholders = (text: string) => fillPlaceholders(text, { app, iid: ci.mrIid ?? '', slug: ci.refSlug, env: envName });
  // gantry validate reports these too (config/rules.ts); here the CI facts ({slug}, the real iid)
  // are known, and a config that never went through validation (a library caller) is checked.
  const filled = (field: 'namespace' | 'domain', template: string) => {
    const problem = placeholderProblem(template, envName);
    if (problem) throw configFieldError(envName, field, template, problem, `remove {iid} from it, or use {app}, {env} or {slug}`);
    return placeholders(template);
  };
  // A review target without a merge request only names things for the E_MR_MISSING that render
  // and stop raise: its empty {iid} is not the user's mistake, so it is not reported here.
  const judged = !(envName === 'review' && !ci.mrIid);
  const namespace = env.namespace ? filled('namespace', env.namespace) : undefined;
  const bad = namespace !== undefined && judged ? namespaceProblem(namespace) : undefined;
  if (namespace !== undefined && bad) {
    const shown = namespace === env.namespace ? `"${namespace}"` : `"${namespace}" (from "${env.namespace}")`;
    throw configFieldError(envName, 'namespace', env.namespace!, `${shown}: ${bad.why}`, `write it as a valid namespace, e.g. ${bad.suggestion}`);
  }
  const domain = env.domain ? filled('domain', env.domain) : undefined;
  // The Ingress host is a DNS-1123 subdomain, "*." allowed in front (ValidateIngressSpec);
  // {slug} is only known here.
  const badHost = domain !== undefined && judged ? dns1123SubdomainProblem(domain.replace(/^\*\./, '')) : undefined;
  if (domain !== undefined && badHost) {
    throw configFieldError(envName, 'domain', env.domain!, `"${domain}": ${badHost}`, 'write a lowercase host name, e.g. staging.hello.example.com');
  }
  const instance = instanceName(app, envName, ci.mrIid);
  return {
    envName,
    env,
    review: envName === 'review',
    app,
    instance,
    namespace: namespace ?? instance,
    deployment: app,
    labels: environmentLabels(app, instance, envName),
    selector: selectorLabels(app, instance),
    kubeconfigVariable: kubeconfigVariableName(envName, env.kubeconfig),
    replicas: env.replicas ?? config.backend.replicas,
    autoscale: env.autoscale ?? config.backend.autoscale,
    resources: env.resources ?? config.backend.resources,
    trackTimeoutSeconds: config.backend.progressDeadlineSeconds + 30,
    domain,
    frontend: frontendTarget(config),
    placeholders,
  };
}

/** A field of one environment that cannot be used as written: exit 2, the field, the fix. */
function configFieldError(envName: string, field: string, value: string, why: string, fix: string) {
  const at = `environments.${envName}.${field}`;
  return gantryError('E_CONFIG_INVALID', {
    message: `${at} "${value}" cannot be used; nothing was done`,
    fix,
    lines: [`✗ ${at}: ${why}`, `    fix: ${fix}`],
  });
}
