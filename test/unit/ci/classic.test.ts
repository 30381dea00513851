// The classic includes in ci-templates/ are made from the components in templates/, never kept
// by hand: the committed files are exactly what the generator makes, and the generator turns
// inputs into variables only where GitLab expands variables.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { classicInclude, classicVariable, withComponentsReference } from '../../../src/ci/classic.js';
import { repoRoot } from '../../support/fixtures.js';

const components = readdirSync(path.join(repoRoot, 'templates'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => f.replace(/\.yml$/, ''));

test('every component in templates/ has its classic twin in ci-templates/, exactly as generated (run npm run build after changing a component)', () => {
  expect(components.sort()).toEqual(['backend', 'build', 'cleanup', 'frontend', 'render', 'review']);
  expect(readdirSync(path.join(repoRoot, 'ci-templates')).sort()).toEqual(components.map((c) => `${c}.yml`).sort());
  for (const c of components) {
    const generated = classicInclude(c, readFileSync(path.join(repoRoot, 'templates', `${c}.yml`), 'utf8'));
    expect([c, readFileSync(path.join(repoRoot, 'ci-templates', `${c}.yml`), 'utf8')]).toEqual([c, generated]);
  }
});

test("README.md's components reference (the CI/CD catalog page) lists every input of every component as the templates declare it", () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  expect(readme).toContain('<!-- components:start');
  expect(withComponentsReference(readme, repoRoot) === readme).toBe(true);
  for (const c of components) expect(readme).toContain(`#### \`${c}\``);
  expect(readme).toMatch(/\| `auto_stop_in` \| `3 days` \| `GANTRY_REVIEW_AUTO_STOP_IN` \| How long an untouched preview lives/);
});

test('every input of every component has a description (the CI/CD catalog shows it)', () => {
  for (const c of components) {
    const inputs = (
      YAML.parseAllDocuments(readFileSync(path.join(repoRoot, 'templates', `${c}.yml`), 'utf8'))[0]!.toJS() as {
        spec: { inputs: Record<string, { description?: string }> };
      }
    ).spec.inputs;
    for (const [name, input] of Object.entries(inputs))
      expect([c, name, typeof input.description, (input.description ?? '').length > 10]).toEqual([c, name, 'string', true]);
  }
});

const component = `# Gantry CI component: a test.
spec:
  inputs:
    image: { description: the image, default: reg/gantry:1 }
    branch: { description: the branch, default: main }
    env: { description: the environment, default: staging }
    report: { description: the report, default: out.env }
    stage: { description: the stage, default: deploy }
    on: { description: a flag, type: boolean, default: false }
---
job-$[[ inputs.env ]]:
  image: $[[ inputs.image ]]
  stage: $[[ inputs.stage ]]
  resource_group: lock-$[[ inputs.env ]]
  rules:
    - if: $CI_COMMIT_BRANCH == "$[[ inputs.branch ]]"
  variables:
    GANTRY_T_ON: "$[[ inputs.on ]]"
    OTHER: x-$[[ inputs.env ]]
  script:
    - run --env "$[[ inputs.env ]]" --out "$[[ inputs.report ]]" $[[ inputs.env ]]_suffix
  artifacts:
    reports:
      dotenv: $[[ inputs.report ]]
  needs:
    - job: build-$[[ inputs.env ]]
`;

describe('the generator', () => {
  const out = classicInclude('t', component);
  const [variables, jobs] = [YAML.parse(out).variables, YAML.parse(out)];

  test("inputs become variables where GitLab expands them, with the defaults as the variables' values", () => {
    expect(variables).toEqual({ GANTRY_JOB_IMAGE: 'reg/gantry:1', GANTRY_T_BRANCH: 'main', GANTRY_T_ENV: 'staging', GANTRY_T_ON: 'false' });
    const job = jobs['job-staging'];
    expect(job.image).toBe('$GANTRY_JOB_IMAGE');
    expect(job.resource_group).toBe('lock-$GANTRY_T_ENV');
    expect(job.rules).toEqual([{ if: '$CI_COMMIT_BRANCH == $GANTRY_T_BRANCH' }]);
    expect(job.variables).toEqual({ OTHER: 'x-$GANTRY_T_ENV' });
    expect(job.script[0]).toBe('run --env "$GANTRY_T_ENV" --out "out.env" ${GANTRY_T_ENV}_suffix');
  });

  test('job names, stages and needs take the default; an input that names a report file keeps its default everywhere', () => {
    const job = jobs['job-staging'];
    expect(job.stage).toBe('deploy');
    expect(job.needs).toEqual([{ job: 'build-staging' }]);
    expect(job.artifacts.reports.dotenv).toBe('out.env');
    expect(variables).not.toHaveProperty('GANTRY_T_REPORT');
    expect(out).toContain('# Generated from templates/t.yml by `npm run build`');
    expect(out).toContain('# Gantry (classic include): a test.');
  });

  test('an input the spec does not declare is an error naming it', () => {
    expect(() => classicInclude('t', component.replace('inputs.branch ]]', 'inputs.brnach ]]'))).toThrow(
      'templates/t.yml uses inputs.brnach, which its spec does not declare',
    );
  });

  test('shared inputs keep one variable across components', () => {
    expect([classicVariable('backend', 'image'), classicVariable('review', 'gantry'), classicVariable('review', 'auto_stop_in')]).toEqual([
      'GANTRY_JOB_IMAGE',
      'GANTRY',
      'GANTRY_REVIEW_AUTO_STOP_IN',
    ]);
  });
});
