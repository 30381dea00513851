// Loads gantry.yaml, merges CI variables and command-line flags over it (file < CI env <
// flags), validates everything, and reports every problem at once with where it came from.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML, { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import { ciVariables, configOverrideValues, configOverrideVariables } from '../ci/variables.js';
import { type GantryError, gantryError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { describeIssues, type Problem } from './problems.js';
import { checkRules } from './rules.js';

export type ConfigPath = (string | number)[];

/** One override: a dotted path, a value, and a label for error messages. */
export interface Override {
  path: ConfigPath;
  value: unknown;
  source: string;
}

/** CI variables with a fixed meaning; anything else goes through GANTRY_SET. */
export const ciVariableOverrides: Record<string, string> = configOverrideVariables;

export interface LoadOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** --config, else GANTRY_CONFIG, else gantry.yaml / gantry.yml in cwd. */
  file?: string;
  /** --set path=value (value parsed as YAML) */
  set?: string[];
  /** --set-string path=value (value kept as a string) */
  setString?: string[];
}

export interface LoadedConfig {
  config: Config;
  file: string;
}

/** Where a command's configuration comes from, as the step scripts hand it to a flow. */
export interface ConfigSource {
  cwd: string;
  /** The CI variables (with --mr as CI_MERGE_REQUEST_IID). */
  env: NodeJS.ProcessEnv;
  /** --config */
  config?: string | undefined;
  set?: string[] | undefined;
  setString?: string[] | undefined;
}

/** A command aimed at one environment of gantry.yaml (--env). */
export interface EnvironmentSource extends ConfigSource {
  envName: string;
}

/** loadConfig from a flow's input. */
export function loadConfigOf(source: ConfigSource): Promise<LoadedConfig> {
  return loadConfig({ cwd: source.cwd, env: source.env, file: source.config, set: source.set, setString: source.setString });
}

export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const file = await findConfigFile(options);
  const text = await readFile(file, 'utf8');
  const label = path.relative(options.cwd, file) || file;
  return { config: parseConfigText(text, label, options), file };
}

/** Parses, merges and validates gantry.yaml text; throws one error listing every problem. */
export function parseConfigText(text: string, label: string, options: Pick<LoadOptions, 'env' | 'set' | 'setString'>): Config {
  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw gantryError('E_CONFIG_SYNTAX', {
      label,
      lines: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${label}:${pos.line}:${pos.col}: ${e.message.split('\n')[0]}`;
      }),
    });
  }
  keepEnvValuesAsWritten(doc, text);
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw gantryError('E_CONFIG_INVALID', { label, notMapping: true });
  }
  const problems: Problem[] = [];
  const overrides = [...overridesFromEnv(options.env, problems), ...overridesFromFlags(options.set ?? [], options.setString ?? [], problems)];
  for (const override of overrides) setIn(raw as Record<string, unknown>, override.path, override.value);

  const where = (p: ConfigPath): string => locate(p, overrides, doc, lineCounter, label);
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) problems.push(...checkRules(result.data).map((r) => ({ ...r, where: where(r.path) })));
  else problems.push(...describeIssues(result.error.issues, where));
  if (problems.length > 0 || !result.success) throw configProblems(label, problems);
  return result.data;
}

async function findConfigFile(options: LoadOptions): Promise<string> {
  const explicit = options.file ?? ciVariables(options.env).gantry.config;
  const candidates = explicit ? [explicit] : ['gantry.yaml', 'gantry.yml'];
  for (const candidate of candidates) {
    const full = path.resolve(options.cwd, candidate);
    try {
      await access(full);
      return full;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw gantryError('E_CONFIG_MISSING', { candidates, cwd: options.cwd, explicit: Boolean(explicit) });
}

export function configProblems(label: string, problems: Problem[]): GantryError {
  const details: string[] = [];
  for (const p of problems) {
    details.push(`✗ ${p.path.join('.') || '(top level)'}${p.where ? ` (${p.where})` : ''}: ${p.message}`);
    if (p.fix) details.push(`    fix: ${p.fix}`);
  }
  return gantryError('E_CONFIG_INVALID', { label, problems: details, count: problems.length });
}

// Env values are strings in Kubernetes. A YAML number such as 1.10 would come back as 1.1, so
// plain scalars under an env map keep the text exactly as the user wrote it.
function keepEnvValuesAsWritten(doc: Document, text: string): void {
  const envMaps: Node[] = [];
  const backendEnv = doc.getIn(['backend', 'env'], true);
  if (backendEnv) envMaps.push(backendEnv as Node);
  const envs = doc.get('environments', true);
  if (isMap(envs)) {
    for (const pair of envs.items) {
      if (isMap(pair.value)) {
        const env = pair.value.get('env', true);
        if (env) envMaps.push(env as Node);
      }
    }
  }
  for (const map of envMaps) {
    if (!isMap(map)) continue;
    for (const pair of map.items) {
      const value = pair.value;
      if (isScalar(value) && value.type === 'PLAIN' && (typeof value.value === 'number' || typeof value.value === 'boolean') && value.range) {
        value.value = text.slice(value.range[0], value.range[1]);
      }
    }
  }
}

/**
 * The frontend settings the CI variables give (GANTRY_FRONTEND_BUCKET / _REGION, and
 * frontend.<key>=... lines of GANTRY_SET), for jobs that run without a gantry.yaml (the stop job
 * has no checkout). Keys with object values (cdn, website, ...) are left out.
 */
export function frontendOverridesFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const problems: Problem[] = [];
  const overrides = overridesFromEnv(env, problems);
  if (problems.length > 0) throw configProblems('the CI variables', problems);
  const out: Record<string, string> = {};
  for (const o of overrides) {
    if (o.path.length === 2 && o.path[0] === 'frontend' && typeof o.path[1] === 'string' && ['string', 'number'].includes(typeof o.value))
      out[o.path[1]] = String(o.value);
  }
  return out;
}

function overridesFromEnv(env: NodeJS.ProcessEnv, problems: Problem[]): Override[] {
  const out: Override[] = [];
  for (const { variable, path: dotted, value } of configOverrideValues(env))
    out.push({ path: dotted.split('.'), value: parseScalar(value), source: `CI variable ${variable}` });
  const set = ciVariables(env).gantry.set;
  if (set) {
    for (const line of set
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)) {
      const parsed = parseAssignment(line, `CI variable GANTRY_SET`, false, problems);
      if (parsed) out.push(parsed);
    }
  }
  return out;
}

function overridesFromFlags(set: string[], setString: string[], problems: Problem[]): Override[] {
  const out: Override[] = [];
  for (const a of set) {
    const parsed = parseAssignment(a, `--set ${a}`, false, problems);
    if (parsed) out.push(parsed);
  }
  for (const a of setString) {
    const parsed = parseAssignment(a, `--set-string ${a}`, true, problems);
    if (parsed) out.push(parsed);
  }
  return out;
}

function parseAssignment(text: string, source: string, asString: boolean, problems: Problem[]): Override | undefined {
  const eq = text.indexOf('=');
  const dotted = eq > 0 ? text.slice(0, eq) : '';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(dotted)) {
    problems.push({
      path: [],
      where: source,
      message: `"${text}" is not path=value`,
      fix: 'write it as a dotted path, "=", and a value, e.g. backend.replicas=3',
    });
    return undefined;
  }
  const value = text.slice(eq + 1);
  const configPath = dotted.split('.').map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
  return { path: configPath, value: asString ? value : parseScalar(value), source };
}

/** Values from the command line and CI variables are YAML, as with helm --set: 3 is a number. */
function parseScalar(value: string): unknown {
  try {
    return YAML.parse(value);
  } catch {
    return value;
  }
}

function setIn(target: Record<string, unknown>, configPath: ConfigPath, value: unknown): void {
  let node: Record<string | number, unknown> = target;
  configPath.forEach((key, i) => {
    if (i === configPath.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (next === null || typeof next !== 'object') node[key] = typeof configPath[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
}

/** Where a value at `p` came from: the override that set it or a parent, else its line in the file. */
function locate(p: ConfigPath, overrides: Override[], doc: Document, lineCounter: LineCounter, label: string): string {
  const key = p.join('.');
  for (let i = overrides.length - 1; i >= 0; i--) {
    const o = overrides[i]!;
    const ok = o.path.join('.');
    if (key === ok || key.startsWith(`${ok}.`)) return o.source;
  }
  for (let n = p.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true);
    const range = (node as Node | undefined)?.range;
    if (range && (isMap(node) || isSeq(node) || isScalar(node))) return `${label}:${lineCounter.linePos(range[0]).line}`;
  }
  return label;
}
