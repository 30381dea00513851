// The classic `include: project/file` twins of the CI components, made from them: GitLab resolves
// `component: <host>/devops/gantry/<name>@<version>` to templates/<name>.yml, and older GitLab (or
// a project that prefers variables to inputs) includes ci-templates/<name>.yml instead. Each
// `$[[ inputs.x ]]` becomes a CI variable where GitLab or the runner expands variables (image,
// scripts, variables, rules:if, environment name/url/auto_stop_in, resource_group, artifacts
// paths), and the input's default where nothing expands them (job names, stage, needs, extends,
// on_stop, dotenv report paths). `npm run build` writes ci-templates/ from templates/, and the
// README's inputs reference; a test checks the committed files are what this makes, so neither
// the twins nor the reference are edited by hand.
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML, { isMap, isPair, isScalar, isSeq, type Document, type Node, type Pair } from 'yaml';

interface Input {
  description?: string;
  default?: unknown;
  type?: string;
  options?: unknown[];
}

/** Inputs every component has, one variable for all of them. */
const sharedVariables: Record<string, string> = { image: 'GANTRY_JOB_IMAGE', gantry: 'GANTRY' };

/** The CI variable that stands for `input` of `component` in the classic include. */
export function classicVariable(component: string, input: string): string {
  return sharedVariables[input] ?? `GANTRY_${component}_${input}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

const INPUT = /\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]/g;

/**
 * Whether GitLab or the runner expands CI variables at this key path (from the job down), per
 * GitLab's "Where variables can be used". Conservative: anything not listed gets the default.
 */
function expandsVariables(keys: string[]): boolean {
  const [first, second] = keys;
  if (first === undefined) return false;
  if (['image', 'script', 'before_script', 'after_script', 'variables', 'resource_group'].includes(first)) return true;
  if (first === 'rules') return keys.includes('if');
  if (first === 'environment') return second === 'name' || second === 'url' || second === 'auto_stop_in';
  if (first === 'artifacts') return second === 'paths' || second === 'name';
  return false;
}

/**
 * Inputs that must keep their default everywhere: one used where variables are not expanded and
 * where a value must match another use (a dotenv report path that a script writes), so a
 * variable in one place and the default in the other would disagree. Job names, stages and the
 * references to them take the default but leave the input a variable elsewhere.
 */
/** Positions that name a job or a stage: they take the default, as the job names themselves do. */
function namesAJobOrStage(keys: string[]): boolean {
  return ['stage', 'needs', 'extends', 'dependencies'].includes(keys[0]!) || (keys[0] === 'environment' && keys[1] === 'on_stop');
}

function fixedInputs(jobs: unknown): Set<string> {
  const fixed = new Set<string>();
  const visit = (value: unknown, keys: string[]) => {
    if (typeof value === 'string') {
      if (!namesAJobOrStage(keys) && !expandsVariables(keys)) for (const m of value.matchAll(INPUT)) fixed.add(m[1]!);
    } else if (Array.isArray(value)) for (const [i, v] of value.entries()) visit(v, [...keys, String(i)]);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, [...keys, k]);
  };
  for (const job of Object.values((jobs ?? {}) as Record<string, unknown>)) visit(job, []);
  return fixed;
}

function defaultText(input: Input | undefined, name: string, component: string): string {
  if (!input) throw new Error(`templates/${component}.yml uses inputs.${name}, which its spec does not declare`);
  return input.default === undefined ? '' : String(input.default);
}

/** The classic include made from one component's text. */
export function classicInclude(component: string, text: string): string {
  return classicForm(component, text).text;
}

/** The classic include, and the variable each input became (inputs that keep their default are absent). */
export function classicForm(component: string, text: string): { text: string; variables: Record<string, string> } {
  const docs = YAML.parseAllDocuments(text);
  const broken = docs.flatMap((d) => d.errors);
  if (broken.length > 0) throw new Error(`templates/${component}.yml is not valid YAML: ${broken[0]!.message}`);
  if (docs.length !== 2) throw new Error(`templates/${component}.yml: expected a spec document and a jobs document, found ${docs.length}`);
  const inputs = ((docs[0]!.toJS() as { spec?: { inputs?: Record<string, Input> } }).spec?.inputs ?? {}) as Record<string, Input>;
  const jobs = docs[1]! as Document;
  for (const m of String(docs[1]).matchAll(INPUT)) defaultText(inputs[m[1]!], m[1]!, component);
  const fixed = fixedInputs(jobs.toJS());
  const used = new Set<string>();
  const substitute = (value: string, variables: boolean, inQuotedIf: boolean): string => {
    let out = value;
    if (variables && inQuotedIf) {
      // rules:if compares with a string literal in quotes; a variable is compared bare.
      out = out.replace(new RegExp(`"${INPUT.source}"`, 'g'), (m, name: string) => {
        if (fixed.has(name)) return m;
        used.add(name);
        return `$${classicVariable(component, name)}`;
      });
    }
    return out.replace(INPUT, (_m, name: string, offset: number, whole: string) => {
      if (!variables || fixed.has(name)) return defaultText(inputs[name], name, component);
      used.add(name);
      const variable = classicVariable(component, name);
      return /[A-Za-z0-9_]/.test(whole[offset + _m.length] ?? '') ? `\${${variable}}` : `$${variable}`;
    });
  };

  const walk = (node: Node | null | undefined, keys: string[]): void => {
    if (isMap(node)) {
      node.items = node.items.flatMap((pair: Pair) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        // A job variable that only passes its input on: the global variable of the same name already is it.
        if (keys.length === 1 && keys[0] === 'variables' && isScalar(pair.value) && typeof pair.value.value === 'string') {
          const only = /^\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]$/.exec(pair.value.value.trim());
          if (only && !fixed.has(only[1]!) && classicVariable(component, only[1]!) === key) {
            used.add(only[1]!);
            return [];
          }
        }
        if (isScalar(pair.key) && typeof pair.key.value === 'string') pair.key.value = substitute(pair.key.value, false, false);
        walkValue(pair, [...keys, key]);
        return key === 'variables' && isMap(pair.value) && pair.value.items.length === 0 ? [] : [pair];
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (isScalar(item) && typeof item.value === 'string') item.value = substitute(item.value, expandsVariables(keys), false);
        else walk(item as Node, [...keys, String(i)]);
      });
    }
  };
  const walkValue = (pair: Pair, keys: string[]) => {
    const value = pair.value as Node | null;
    if (isScalar(value) && typeof value.value === 'string') {
      value.value = substitute(value.value, expandsVariables(keys), keys[keys.length - 1] === 'if');
    } else walk(value, keys);
  };
  if (!isMap(jobs.contents)) throw new Error(`templates/${component}.yml: the jobs document is not a map`);
  for (const pair of jobs.contents.items) {
    if (isScalar(pair.key) && typeof pair.key.value === 'string') pair.key.value = substitute(pair.key.value, false, false);
    if (isPair(pair)) walk(pair.value as Node, []);
  }

  const variables = new YAML.Document(
    Object.fromEntries(
      Object.entries(inputs)
        .filter(([name]) => used.has(name))
        .map(([name, input]) => [classicVariable(component, name), defaultText(input, name, component)]),
    ),
  );
  if (isMap(variables.contents)) {
    for (const pair of variables.contents.items) {
      const name = Object.keys(inputs).find((n) => classicVariable(component, n) === String((pair.key as { value: unknown }).value))!;
      const description = inputs[name]!.description;
      if (description && isScalar(pair.key)) pair.key.commentBefore = ` ${description}`;
    }
  }
  const header = (text.match(/^(#[^\n]*\n)+/)?.[0] ?? '').replace(/^# Gantry CI component: /, '# Gantry (classic include): ');
  const usage = [
    `# Generated from templates/${component}.yml by \`npm run build\` (src/ci/classic.ts): do not edit.`,
    '# For GitLab without CI components, or to set variables instead of inputs:',
    '#   include:',
    '#     - project: devops/gantry',
    '#       ref: <version>',
    `#       file: ci-templates/${component}.yml`,
    '# Each input of the component is the variable below (set it in your .gitlab-ci.yml or the',
    "# project's CI/CD variables); job names, stages and needs keep the inputs' defaults (override a",
    "# job's stage the usual way, e.g. `deploy-staging: { stage: release }`).",
  ].join('\n');
  const variablesBlock =
    used.size > 0
      ? `variables:\n${variables
          .toString()
          .replace(/^/gm, '  ')
          .replace(/^ {2}$/gm, '')
          .trimEnd()}\n\n`
      : '';
  const body = jobs
    .toString({ lineWidth: 0 })
    .replace(/^---\n/, '')
    .trimStart();
  return {
    text: `${header}${usage}\n${variablesBlock}${body}`,
    variables: Object.fromEntries(
      Object.keys(inputs)
        .filter((name) => used.has(name))
        .map((name) => [name, classicVariable(component, name)]),
    ),
  };
}

const README_START = '<!-- components:start (made from templates/*.yml by npm run build: do not edit) -->';
const README_END = '<!-- components:end -->';

/** The README's table of every component's inputs, as the CI/CD catalog reader needs it. */
export function componentsReference(root: string): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const out: string[] = [];
  for (const file of readdirSync(path.join(root, 'templates'))
    .filter((f) => f.endsWith('.yml'))
    .sort()) {
    const component = file.replace(/\.yml$/, '');
    const text = readFileSync(path.join(root, 'templates', file), 'utf8');
    const first = (text.match(/^# Gantry CI component: ([^\n]*(?:\n#(?!\s*$)[^\n]*)*)/)?.[1] ?? '').replace(/\n#\s?/g, ' ').split(/(?<=\.)\s/)[0]!;
    const summary = cell(first.charAt(0).toUpperCase() + first.slice(1));
    const { variables } = classicForm(component, text);
    const inputs = ((YAML.parseAllDocuments(text)[0]!.toJS() as { spec?: { inputs?: Record<string, Input> } }).spec?.inputs ?? {}) as Record<string, Input>;
    out.push(
      `#### \`${component}\``,
      '',
      summary,
      '',
      `\`include: - component: $CI_SERVER_FQDN/devops/gantry/${component}@<version>\` · classic: \`ci-templates/${component}.yml\``,
      '',
    );
    out.push('| input | default | classic variable | description |', '| --- | --- | --- | --- |');
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.default === undefined ? '(required)' : input.default === '' ? '""' : `\`${String(input.default)}\``;
      const variable = variables[name] ? `\`${variables[name]}\`` : '(the default)';
      out.push(`| \`${name}\` | ${value} | ${variable} | ${cell(input.description ?? '')} |`);
    }
    out.push('');
  }
  return `${README_START}\n${out.join('\n')}${README_END}`;
}

/** README.md with its components block made anew (unchanged when it has no markers). */
export function withComponentsReference(readme: string, root: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return readme;
  return readme.slice(0, start) + componentsReference(root) + readme.slice(end + README_END.length);
}

/** Writes ci-templates/<name>.yml for every templates/<name>.yml under root. */
export function writeClassicIncludes(root: string): string[] {
  const out = path.join(root, 'ci-templates');
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  for (const file of readdirSync(path.join(root, 'templates'))
    .filter((f) => f.endsWith('.yml'))
    .sort()) {
    const component = file.replace(/\.yml$/, '');
    writeFileSync(path.join(out, file), classicInclude(component, readFileSync(path.join(root, 'templates', file), 'utf8')));
    written.push(path.join('ci-templates', file));
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2] ?? process.cwd();
  writeClassicIncludes(root);
  const readme = path.join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const updated = withComponentsReference(text, root);
  if (updated !== text) writeFileSync(readme, updated);
}
