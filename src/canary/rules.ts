// gantry.yaml rules for environments.<env>.rollout that span fields (run after the schema).
import type { Problem } from '../config/problems.js';
import { type Config, durationSeconds } from '../config/schema.js';
import { unknownVariables, QUERY_VARIABLES } from './analysis.js';

export function checkRollout(config: Config): Problem[] {
  const problems: Problem[] = [];
  for (const [envName, env] of Object.entries(config.environments)) {
    const rollout = env.rollout;
    if (!rollout) continue;
    const at = (...rest: (string | number)[]) => ['environments', envName, 'rollout', ...rest] as string[];
    if (rollout.strategy === 'canary' && rollout.steps.length === 0) {
      problems.push({
        path: at('steps'),
        message: 'a canary needs at least one step',
        fix: 'add steps, e.g. [{ weight: 10, pause: 2m }, { weight: 50, pause: 5m }]',
      });
    }
    if (rollout.strategy === 'rolling' && rollout.steps.length > 0) {
      problems.push({ path: at('strategy'), message: 'steps are set but strategy is rolling', fix: 'set strategy: canary, or remove steps' });
    }
    rollout.steps.forEach((step, i) => {
      const before = rollout.steps[i - 1];
      if (before && step.weight <= before.weight) {
        problems.push({
          path: at('steps', i, 'weight'),
          message: `weight ${step.weight} is not above the step before (${before.weight})`,
          fix: 'give each step a higher weight than the one before',
        });
      }
    });
    if (durationSeconds(rollout.analysis.interval) < 1) {
      problems.push({
        path: at('analysis', 'interval'),
        message: `${rollout.analysis.interval} is too short for an analysis interval`,
        fix: 'use at least 1s (30s is the default)',
      });
    }
    const names = new Set<string>();
    rollout.analysis.queries.forEach((q, i) => {
      if (names.has(q.name))
        problems.push({ path: at('analysis', 'queries', i, 'name'), message: `${q.name} is named twice`, fix: 'give every query its own name' });
      names.add(q.name);
      const unknown = unknownVariables(q.query);
      if (unknown.length > 0) {
        problems.push({
          path: at('analysis', 'queries', i, 'query'),
          message: `{{${unknown.join('}}, {{')}}} is not a query variable`,
          fix: `use ${QUERY_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
        });
      }
    });
    if ((rollout.traffic === 'nginx' || rollout.traffic === 'alb') && !env.domain) {
      problems.push({
        path: at('traffic'),
        message: `traffic: ${rollout.traffic} sets the weight on a canary Ingress, and this environment has none (no domain)`,
        fix: `set environments.${envName}.domain, or use traffic: replicas`,
      });
    }
  }
  return problems;
}
