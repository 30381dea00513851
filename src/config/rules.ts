// Rules that span fields, run after the schema passes. Each returns problems, never throws.
import type { Problem } from './problems.js';
import { parseQuantity } from './quantity.js';
import type { Autoscale, Config, Resources } from './schema.js';

export function checkRules(config: Config): Problem[] {
  const problems: Problem[] = [];
  checkAutoscale(config.backend.autoscale, ['backend', 'autoscale'], problems);
  checkAutoscaleTargets(config.backend.autoscale, config.backend.resources, ['backend', 'autoscale'], problems);
  checkResources(config.backend.resources, ['backend', 'resources'], problems);
  checkProbes(config, problems);
  for (const [name, env] of Object.entries(config.environments)) {
    const at = (...rest: string[]) => ['environments', name, ...rest];
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
