// Loads gantry.yaml, merges CI variables and command-line flags over it (file < CI env <
// flags), validates everything, and reports every problem at once with where it came from.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import YAML, { Composer, isMap, isScalar, isSeq, LineCounter, Parser, YAMLParseError, type Document, type Node } from 'yaml';
import { ciVariables, configOverrideValues, configOverrideVariables } from '../ci/variables.js';
import { type GantryError, gantryError } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { checkTree, CONFIG_LIMITS, cstDepth, describeIssues, documentProblems, isPrototypeName, nullPrototypeCopy, type Problem } from './problems.js';
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
  const { file, via, given } = await findConfigFile(options);
  const label = path.relative(options.cwd, file) || file;
  // A problem with the file itself names it as the user wrote it (--config /dev/zero).
  const text = await readConfigFile(file, given, via);
  return { config: parseConfigText(text, label, options), file };
}

/**
 * The file's text, read only when it is a regular file within CONFIG_LIMITS.bytes: a directory,
 * /dev/zero or a FIFO would otherwise end in a stack trace, an endless read or a hang. The read
 * itself stops past the limit too, for a file that grows after the stat.
 */
async function readConfigFile(file: string, label: string, via: string | undefined): Promise<string> {
  const limitBytes = CONFIG_LIMITS.bytes;
  const info = await stat(file);
  if (info.isDirectory()) throw gantryError('E_CONFIG_FILE', { label, via, problem: 'directory' });
  if (!info.isFile()) throw gantryError('E_CONFIG_FILE', { label, via, problem: 'not-regular' });
  if (info.size > limitBytes) throw gantryError('E_CONFIG_FILE', { label, via, problem: 'too-large', size: info.size, limitBytes });
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(limitBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > limitBytes) throw gantryError('E_CONFIG_FILE', { label, via, problem: 'too-large', size: length, limitBytes });
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

/** Parses, merges and validates gantry.yaml text; throws one error listing every problem. */
export function parseConfigText(text: string, label: string, options: Pick<LoadOptions, 'env' | 'set' | 'setString'>): Config {
  const lineCounter = new LineCounter();
  // YAML.parseDocument, in its two halves: the depth is measured on the parser's tokens (built
  // without recursion) before they are composed into a document, which recurses once per level.
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  const depth = cstDepth(tokens, CONFIG_LIMITS.depth);
  if (depth) throw gantryError('E_CONFIG_LIMIT', { label, limit: 'depth', max: CONFIG_LIMITS.depth, line: lineCounter.linePos(depth.offset).line });
  // yaml's own duplicate-key check (uniqueKeys) compares each key with every earlier one: 40k env
  // keys took 28 s. documentProblems does it with one Set per mapping instead.
  let doc: Document.Parsed | undefined;
  for (const next of new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, text.length)) {
    if (!doc) doc = next;
    else {
      doc.errors.push(
        new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'),
      );
      break;
    }
  }
  if (!doc) throw gantryError('E_CONFIG_INVALID', { label, notMapping: true });
  const syntax = documentProblems(doc);
  const errors = [...doc.errors.map((e) => ({ offset: e.pos[0], message: e.message.split('\n')[0]! })), ...syntax.duplicates].sort(
    (a, b) => a.offset - b.offset,
  );
  if (errors.length > 0) {
    throw gantryError('E_CONFIG_SYNTAX', {
      label,
      lines: errors.map((e) => {
        const pos = lineCounter.linePos(e.offset);
        return `${label}:${pos.line}:${pos.col}: ${e.message}`;
      }),
    });
  }
  if (syntax.problems.length > 0) {
    throw configProblems(
      label,
      syntax.problems.map((p) => ({ ...p, where: `${label}:${lineCounter.linePos(p.offset).line}` })),
    );
  }
  keepEnvValuesAsWritten(doc, text);
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: CONFIG_LIMITS.aliases });
  } catch (error) {
    if (error instanceof ReferenceError && /alias/i.test(error.message))
      throw gantryError('E_CONFIG_LIMIT', { label, limit: 'aliases', max: CONFIG_LIMITS.aliases });
    throw error;
  }
  // Null-prototype maps: a key the user names is never looked up on Object.prototype.
  const raw = nullPrototypeCopy(js ?? {});
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
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
  // --env is looked up in this map by every command: an own property only, never "constructor".
  result.data.environments = Object.assign(Object.create(null) as Config['environments'], result.data.environments);
  return result.data;
}

async function findConfigFile(options: LoadOptions): Promise<{ file: string; via: string | undefined; given: string }> {
  const fromEnv = ciVariables(options.env).gantry.config;
  const explicit = options.file ?? fromEnv;
  const via = options.file !== undefined ? '--config' : fromEnv ? 'GANTRY_CONFIG' : undefined;
  const candidates = explicit ? [explicit] : ['gantry.yaml', 'gantry.yml'];
  for (const candidate of candidates) {
    const full = path.resolve(options.cwd, candidate);
    try {
      await stat(full);
      return { file: full, via, given: candidate };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw gantryError('E_CONFIG_FILE', { label: candidate, via, problem: 'unreadable', reason: code ?? String(error) });
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
  for (const { variable, path: dotted, value } of configOverrideValues(env)) {
    const parsed = parseScalar(value);
    const before = problems.length;
    checkTree(parsed, dotted.split('.'), problems);
    for (const p of problems.slice(before)) p.where = `CI variable ${variable}`;
    if (problems.length === before) out.push({ path: dotted.split('.'), value: parsed, source: `CI variable ${variable}` });
  }
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
  const prototypeName = configPath.find((s) => typeof s === 'string' && isPrototypeName(s));
  if (prototypeName !== undefined) {
    problems.push({
      path: configPath,
      where: source,
      message: `"${prototypeName}" is not a key gantry.yaml has: it names a property every JavaScript object inherits`,
      fix: `remove ${source.split(' ')[0]} ${dotted}=...; no setting of Gantry is called ${prototypeName}`,
    });
    return undefined;
  }
  const parsed = asString ? value : parseScalar(value);
  const before = problems.length;
  checkTree(parsed, configPath, problems);
  for (const p of problems.slice(before)) p.where = source;
  return problems.length > before ? undefined : { path: configPath, value: parsed, source };
}

/** Values from the command line and CI variables are YAML, as with helm --set: 3 is a number. */
function parseScalar(value: string): unknown {
  try {
    return nullPrototypeCopy(YAML.parse(value, { maxAliasCount: CONFIG_LIMITS.aliases }));
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
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== 'object') node[key] = typeof configPath[i + 1] === 'number' ? [] : Object.create(null);
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
