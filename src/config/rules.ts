// Rules that span fields, run after the schema passes. Each returns problems, never throws.
import { imagePath } from '../image/acr.js';
import { imageRefProblem } from '../image/ref.js';
import { annotationBytes, byteSize, dataBytes, MAX_ANNOTATIONS_BYTES, MAX_DATA_BYTES } from '../names/limits.js';
import { fillPlaceholders, namespaceProblem, placeholderProblem } from '../names/names.js';
import type { Problem } from './problems.js';
import { parseQuantity } from './quantity.js';
import type { Autoscale, Config, Resources } from './schema.js';
import { checkServices } from '../services/rules.js';
import { checkRollout } from '../canary/rules.js';

export function checkRules(config: Config): Problem[] {
  const problems: Problem[] = [];
  checkAutoscale(config.backend.autoscale, ['backend', 'autoscale'], problems);
  checkAutoscaleTargets(config.backend.autoscale, config.backend.resources, ['backend', 'autoscale'], problems);
  checkResources(config.backend.resources, ['backend', 'resources'], problems);
  checkProbes(config, problems);
  checkImages(config, problems);
  checkConfigMapKeys(config.backend.env, ['backend', 'env'], problems);
  checkAnnotationSize(config.backend.podAnnotations, ['backend', 'podAnnotations'], problems);
  problems.push(...checkServices(config));
  problems.push(...checkRollout(config));
  for (const [name, env] of Object.entries(config.environments)) {
    const at = (...rest: string[]) => ['environments', name, ...rest];
    checkNames(config, name, env, problems);
    if (env.env) checkConfigMapKeys(env.env, at('env'), problems);
    checkConfigMapSize(config, name, env, problems);
    checkAnnotationSize(env.ingress.annotations, at('ingress', 'annotations'), problems);
    if (env.service.slb) checkAnnotationSize(env.service.slb.annotations, at('service', 'slb', 'annotations'), problems);
    if (env.eci?.logs?.image !== undefined) checkImage(env.eci.logs.image, at('eci', 'logs', 'image'), problems);
    checkAutoscale(env.autoscale, at('autoscale'), problems);
    if (env.autoscale || env.resources) {
      checkAutoscaleTargets(
        env.autoscale ?? config.backend.autoscale,
        env.resources ?? config.backend.resources,
        at(env.autoscale ? 'autoscale' : 'resources'),
        problems,
      );
    }
    if (env.resources) checkResources(env.resources, at('resources'), problems);
    const { type, slb, nodePort } = env.service;
    if (slb && type !== 'LoadBalancer') {
      problems.push({
        path: at('service', 'slb'),
        message: `SLB options are set but service.type is ${type}`,
        fix: 'set service.type: LoadBalancer, or remove service.slb',
      });
    }
    if (nodePort !== undefined && type === 'ClusterIP') {
      problems.push({
        path: at('service', 'nodePort'),
        message: 'nodePort needs service.type NodePort or LoadBalancer',
        fix: 'set service.type: NodePort, or remove nodePort',
      });
    }
    if (slb?.spec && slb.chargeType === 'PayByCLCU') {
      problems.push({
        path: at('service', 'slb', 'spec'),
        message: 'spec cannot be combined with chargeType PayByCLCU',
        fix: 'remove slb.spec (pay-by-CLCU SLBs have no spec), or set chargeType: PayBySpec',
      });
    }
    if (slb?.vswitchId && slb.addressType !== 'intranet') {
      problems.push({
        path: at('service', 'slb', 'vswitchId'),
        message: 'vswitchId applies only to an intranet SLB',
        fix: 'set slb.addressType: intranet, or remove vswitchId',
      });
    }
    if (env.eci?.logs && env.cluster !== 'ask') {
      problems.push({
        path: at('eci', 'logs'),
        message: 'the logtail sidecar is for Serverless Kubernetes (cluster: ask); ACK nodes run the logtail DaemonSet',
        fix: 'set cluster: ask, or remove eci.logs',
      });
    }
    if (name === 'review') {
      if (type === 'LoadBalancer') {
        problems.push({
          path: at('service', 'type'),
          message: 'every merge request would buy its own SLB',
          fix: 'use service.type: ClusterIP and a domain with {iid}; previews share one Ingress controller',
        });
      }
      if (env.domain && !/\{(iid|slug)\}/.test(env.domain)) {
        problems.push({
          path: at('domain'),
          message: `"${env.domain}" would be the same host for every merge request`,
          fix: 'put {iid} (or {slug}) in it, e.g. mr-{iid}.review.example.com',
        });
      }
    }
    if (env.domain && !/^(\*\.)?([a-z0-9{]([-a-z0-9{}]*[a-z0-9}])?\.)+[a-z0-9{]([-a-z0-9{}]*[a-z0-9}])?$/.test(env.domain)) {
      problems.push({
        path: at('domain'),
        message: `"${env.domain}" is not a host name`,
        fix: 'write a lowercase host name without scheme or path, e.g. staging.hello.example.com',
      });
    }
  }
  return problems;
}

function checkAutoscale(autoscale: Autoscale | undefined, path: string[], problems: Problem[]): void {
  if (autoscale && autoscale.min > autoscale.max) {
    problems.push({
      path: [...path, 'min'],
      message: `min (${autoscale.min}) is greater than max (${autoscale.max})`,
      fix: 'make min less than or equal to max',
    });
  }
}

// Utilisation is measured against requests: an HPA target without the request never scales.
function checkAutoscaleTargets(autoscale: Autoscale | undefined, resources: Resources, path: string[], problems: Problem[]): void {
  if (!autoscale) return;
  const targets = { cpu: autoscale.cpu !== undefined || autoscale.memory === undefined, memory: autoscale.memory !== undefined };
  for (const kind of ['cpu', 'memory'] as const) {
    if (targets[kind] && resources.requests?.[kind] === undefined) {
      problems.push({
        path,
        message: `autoscaling on ${kind} needs resources.requests.${kind}`,
        fix: `set resources.requests.${kind}: the HPA measures utilisation as a percentage of it`,
      });
    }
  }
}

function checkResources(resources: Resources, path: string[], problems: Problem[]): void {
  for (const kind of ['cpu', 'memory'] as const) {
    const request = resources.requests?.[kind];
    const limit = resources.limits?.[kind];
    if (request === undefined || limit === undefined) continue;
    const r = parseQuantity(request);
    const l = parseQuantity(limit);
    if (r !== undefined && l !== undefined && r > l) {
      problems.push({
        path: [...path, 'requests', kind],
        message: `request ${request} is more than the limit ${limit}`,
        fix: `lower requests.${kind} or raise limits.${kind}; Kubernetes rejects a request above its limit`,
      });
    }
  }
}

function checkProbes(config: Config, problems: Problem[]): void {
  for (const [name, probe] of Object.entries(config.backend.probes)) {
    if (!probe) continue;
    const kinds = [probe.path !== undefined, probe.command !== undefined, probe.tcp === true].filter(Boolean).length;
    if (kinds > 1) {
      problems.push({
        path: ['backend', 'probes', name],
        message: 'a probe can check one thing: path, command or tcp',
        fix: 'keep only one of path, command, tcp',
      });
    }
  }
}

// Limits the Kubernetes API server enforces (src/names/limits.ts cites each): checked here so
// `gantry validate` reports them, not a refused apply in the middle of a deploy.

/** The namespace and domain templates: a placeholder this environment can fill, a valid namespace. */
function checkNames(config: Config, envName: string, env: Config['environments'][string], problems: Problem[]): void {
  for (const field of ['namespace', 'domain'] as const) {
    const template = env[field];
    if (template === undefined) continue;
    const problem = placeholderProblem(template, envName);
    if (problem) {
      problems.push({ path: ['environments', envName, field], message: problem, fix: 'remove {iid} from it, or use {app}, {env} or {slug}' });
    }
  }
  if (env.namespace === undefined || placeholderProblem(env.namespace, envName)) return;
  // {iid} is digits and {slug} lowercase letters, digits and "-": a sample shows what the rest makes.
  const sample = fillPlaceholders(env.namespace, { app: config.app, iid: '1', slug: 'main', env: envName });
  const bad = namespaceProblem(sample);
  if (bad) {
    problems.push({
      path: ['environments', envName, 'namespace'],
      message: `"${sample}" is not a namespace Kubernetes accepts: ${bad.why}`,
      fix: `write it as a valid namespace, e.g. ${bad.suggestion}`,
    });
  }
}

/** Every image gantry.yaml names, and the one the registry settings make, in reference syntax. */
function checkImages(config: Config, problems: Problem[]): void {
  const { registry, backend } = config;
  if (registry) {
    // The tag is a stand-in: the commit tags are checked where they are used (render, build).
    for (const host of [registry.pushHost, registry.pullHost].filter((h): h is string => h !== undefined)) {
      const why = imageRefProblem(`${host}/${imagePath(registry, config.app)}:tag`);
      if (why) {
        const field = registry.repository !== undefined ? 'repository' : 'namespace';
        problems.push({
          path: ['registry', field],
          message: `${host}/${imagePath(registry, config.app)} is not an image name: ${why}`,
          fix: 'use lowercase path parts separated by "/", each letters and digits joined by ".", "_", "__" or "-", e.g. acme/hello',
        });
      }
    }
  }
  if (backend.baseImage !== undefined) checkImage(backend.baseImage.replaceAll('{major}', '20'), ['backend', 'baseImage'], problems);
  backend.initContainers.forEach((init, i) => {
    if (init.image !== undefined) checkImage(init.image, ['backend', 'initContainers', i, 'image'], problems);
  });
}

function checkImage(image: string, path: (string | number)[], problems: Problem[]): void {
  const why = imageRefProblem(image);
  if (why) {
    problems.push({
      path,
      message: `${JSON.stringify(image)} is not an image reference: ${why}`,
      fix: 'write host/namespace/name:tag or host/namespace/name@sha256:<64 hex>, e.g. registry-vpc.cn-hangzhou.aliyuncs.com/acme/node:20-slim',
    });
  }
}

// ConfigMap keys: k8s.io/apimachinery validation.IsConfigMapKey allows at most 253 characters.
const CONFIG_MAP_KEY_MAX = 253;

function checkConfigMapKeys(env: Config['backend']['env'], path: string[], problems: Problem[]): void {
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'object' && key.length > CONFIG_MAP_KEY_MAX) {
      problems.push({
        path: [...path, `${key.slice(0, 40)}...`],
        message: `the name is ${key.length} characters; a ConfigMap key is at most ${CONFIG_MAP_KEY_MAX}`,
        fix: `shorten the variable name to at most ${CONFIG_MAP_KEY_MAX} characters`,
      });
    }
  }
}

/** The env ConfigMap render makes (backend.env, the environment's env over it, PORT). */
function checkConfigMapSize(config: Config, envName: string, env: Config['environments'][string], problems: Problem[]): void {
  const data: Record<string, string> = { PORT: String(config.backend.port) };
  for (const [key, value] of Object.entries({ ...config.backend.env, ...(env.env ?? {}) })) if (typeof value !== 'object') data[key] = String(value);
  const bytes = dataBytes(data);
  if (bytes > MAX_DATA_BYTES) {
    problems.push({
      path: env.env ? ['environments', envName, 'env'] : ['backend', 'env'],
      message: `the env ConfigMap of ${envName} would hold ${bytes} bytes of values; Kubernetes allows at most ${MAX_DATA_BYTES} (${byteSize(MAX_DATA_BYTES)})`,
      fix: 'move large values out of env (a file in the image, or a ConfigMap of your own referenced with {configMap, key})',
    });
  }
}

function checkAnnotationSize(annotations: Record<string, string>, path: string[], problems: Problem[]): void {
  const bytes = annotationBytes(annotations);
  if (bytes > MAX_ANNOTATIONS_BYTES) {
    problems.push({
      path,
      message: `the annotations hold ${bytes} bytes; Kubernetes allows at most ${MAX_ANNOTATIONS_BYTES} (${byteSize(MAX_ANNOTATIONS_BYTES)}) of keys and values on one object`,
      fix: 'shorten or remove annotations',
    });
  }
}
