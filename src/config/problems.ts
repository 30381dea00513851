// Turns schema issues into problems a person can act on: the dotted path, where the value
// came from, what was found, what was expected, and how to fix it ("did you mean" included).
import { closest, distance } from 'fastest-levenshtein';
import { isAlias, isMap, isScalar, isSeq, type CST, type Document, type Node } from 'yaml';
import type * as z from 'zod';
import { configJsonSchema } from './schema.js';

export interface Problem {
  path: (string | number)[];
  message: string;
  fix?: string;
  where?: string;
}

type JsonSchema = Record<string, unknown>;
type Issue = z.core.$ZodIssue;

export function describeIssues(issues: readonly Issue[], where: (p: (string | number)[]) => string): Problem[] {
  const root = configJsonSchema();
  const problems: Problem[] = [];
  for (const issue of flatten(issues, [])) {
    for (const problem of describe(issue, root)) problems.push({ ...problem, where: where(problem.path) });
  }
  return problems;
}

/** Unions report every branch; keep the branch that got furthest, the one the user meant. */
function flatten(issues: readonly Issue[], prefix: PropertyKey[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const depth = (branch: readonly Issue[]) => Math.max(...branch.map((i) => i.path.length));
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a) || a.length - b.length)[0]!;
      if (depth(best) > 0) {
        out.push(...flatten(best, path));
        continue;
      }
    }
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      out.push(...issue.issues.map((i) => ({ ...i, path: [...path, ...i.path], input: issue.input }) as Issue));
      continue;
    }
    out.push({ ...issue, path } as Issue);
  }
  return out;
}

function describe(issue: Issue, root: JsonSchema): Problem[] {
  const path = issue.path.map((k) => (typeof k === 'number' ? k : String(k)));
  const node = schemaAt(root, path);
  const hint = fieldHint(node);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = Object.keys((node?.properties as JsonSchema | undefined) ?? {});
      return issue.keys.map((key) => {
        const guess = allowed.length > 0 ? closest(key, allowed) : undefined;
        const near = guess !== undefined && distance(key, guess) <= Math.max(2, Math.floor(key.length / 3));
        return {
          path: [...path, key],
          message: 'unknown key',
          fix: near ? `did you mean "${guess}"? Rename it, or remove it` : `remove it; keys allowed here: ${allowed.join(', ')}`,
        };
      });
    }
    case 'invalid_type': {
      const missing = issue.input === undefined;
      const expected = expectedText(node, issue.expected);
      return [
        {
          path,
          message: missing ? `missing; expected ${expected}` : `found ${found(issue.input)}, expected ${expected}`,
          fix: missing ? `add ${path.join('.')} (${expected})${hint}` : `set ${path.join('.')} to ${expected}${hint}`,
        },
      ];
    }
    case 'invalid_value':
      return [
        {
          path,
          message: `found ${found(issue.input)}, expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
          fix: suggestValue(issue.input, issue.values),
        },
      ];
    case 'too_small':
    case 'too_big': {
      const limit = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
      const unit = issue.origin === 'string' ? ' characters long' : issue.origin === 'array' ? ' items' : '';
      return [{ path, message: `found ${found(issue.input)}, expected ${limit}${unit}`, fix: `use a value ${limit}${unit}${hint}` }];
    }
    case 'invalid_format':
      return [
        { path, message: `found ${found(issue.input)}: ${issue.message}`, fix: `change it so it ${issue.message.replace(/^.*? must /, 'must ')}${hint}` },
      ];
    default:
      return [{ path, message: `found ${found(issue.input)}: ${issue.message}`, fix: `check ${path.join('.')}${hint}` }];
  }
}

function found(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null (an empty value)';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return `${JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input)} (text)`;
  return `${String(input)} (${typeof input === 'number' ? 'a number' : 'a boolean'})`;
}

function expectedText(node: JsonSchema | undefined, fallback: string): string {
  const type = node?.type;
  if (type === 'integer') {
    // z.int() carries the safe-integer bounds; those are no limit worth naming.
    const bound = (v: unknown) => (typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined);
    const lo = bound(node?.minimum);
    const hi = bound(node?.maximum);
    return lo !== undefined && hi !== undefined ? `a whole number from ${lo} to ${hi}` : lo !== undefined ? `a whole number, at least ${lo}` : 'a whole number';
  }
  if (type === 'object') return 'a mapping (key: value lines)';
  if (type === 'array') return 'a list';
  if (type === 'string') return 'text';
  const words: Record<string, string> = {
    number: 'a number',
    int: 'a whole number',
    string: 'text',
    boolean: 'true or false',
    object: 'a mapping (key: value lines)',
    array: 'a list',
  };
  return words[fallback] ?? fallback;
}

function suggestValue(input: unknown, values: readonly unknown[]): string {
  const strings = values.filter((v): v is string => typeof v === 'string');
  if (typeof input === 'string' && strings.length > 0) {
    const guess = closest(input, strings);
    if (distance(input.toLowerCase(), guess.toLowerCase()) <= 2) return `did you mean "${guess}"?`;
  }
  return `use one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
}

/** ", e.g. 3000 — Port the app listens on": the field's example and description. */
function fieldHint(node: JsonSchema | undefined): string {
  if (!node) return '';
  const examples = node.examples as unknown[] | undefined;
  const example = examples && examples.length > 0 ? `, e.g. ${JSON.stringify(examples[0])}` : '';
  const description = typeof node.description === 'string' ? ` — ${node.description}` : '';
  return `${example}${description}`;
}

/** The JSON Schema node that describes the value at `path`. */
export function schemaAt(root: JsonSchema, path: (string | number)[]): JsonSchema | undefined {
  let nodes: JsonSchema[] = [root];
  for (const key of path) {
    const next: JsonSchema[] = [];
    for (const node of nodes.flatMap(expand)) {
      const props = node.properties as Record<string, JsonSchema> | undefined;
      if (typeof key === 'string' && props?.[key]) next.push(props[key]);
      else if (typeof key === 'string' && node.additionalProperties && typeof node.additionalProperties === 'object')
        next.push(node.additionalProperties as JsonSchema);
      else if (typeof key === 'number' && node.items && typeof node.items === 'object') next.push(node.items as JsonSchema);
    }
    if (next.length === 0) return undefined;
    nodes = next;
  }
  const expanded = nodes.flatMap(expand);
  return expanded.find((n) => n.type === 'object' && n.properties) ?? expanded[0];
}

function expand(node: JsonSchema): JsonSchema[] {
  const alternatives = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (!alternatives) return [node];
  return [node, ...alternatives.flatMap(expand)];
}

/**
 * What gantry.yaml may be, checked before it is parsed or merged: far above any real file (the
 * example is 2 KiB and 4 levels deep), low enough that a hostile one ends in exit 2, not in an
 * exhausted stack or heap. 1 MiB is also all a ConfigMap holds, where backend.env ends up.
 */
export const CONFIG_LIMITS = { bytes: 1024 * 1024, depth: 64, aliases: 100 } as const;

// Names every JavaScript object answers to: as a key or an environment they would read or write
// Object.prototype instead of the user's value, so they are refused wherever a user names a key.
const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

export function isPrototypeName(key: string): boolean {
  return PROTOTYPE_NAMES.has(key);
}

function prototypeKeyProblem(path: (string | number)[], key: string): Problem {
  return {
    path,
    message: `"${key}" cannot be a key: it names a property every JavaScript object inherits`,
    fix: 'rename or remove the key',
  };
}

/**
 * The first collection nested deeper than `max` in the parser's tokens, or undefined. Walked with
 * an explicit stack: the point is to stop a 2,000-level file before anything recurses on it.
 */
export function cstDepth(tokens: Iterable<CST.Token>, max: number): { offset: number } | undefined {
  const stack: { token: CST.Token; depth: number }[] = [];
  for (const token of tokens) stack.push({ token, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    const inner = depth + 1;
    if (inner > max) return { offset: token.offset };
    for (const item of token.items as CST.CollectionItem[]) {
      if (item.key) stack.push({ token: item.key, depth: inner });
      if (item.value) stack.push({ token: item.value, depth: inner });
    }
  }
  return undefined;
}

type Located<T> = T & { offset: number };

// The tags of plain JSON-like data; !!binary, !!set, !!timestamp or a custom tag is refused once.
const JSON_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * One pass over the parsed document, linear in its size: duplicate keys (a Set per mapping, where
 * yaml's own check compared each key with every earlier one), keys that are prototype names, and
 * values that are not text, numbers, booleans, null, lists or mappings.
 */
export function documentProblems(doc: Document): { duplicates: Located<{ message: string }>[]; problems: Located<Problem>[] } {
  const duplicates: Located<{ message: string }>[] = [];
  const problems: Located<Problem>[] = [];
  const stack: { node: unknown; path: (string | number)[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (!node || isAlias(node)) continue;
    const offset = (node as Node).range?.[0] ?? 0;
    const tag = (node as Node).tag;
    if (tag && !JSON_TAGS.has(tag)) {
      problems.push({
        path,
        offset,
        message: `found a ${tag.replace('tag:yaml.org,2002:', '!!')} value`,
        fix: 'write it as text, a number, true/false, a list or a mapping (no YAML tag)',
      });
      continue;
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v !== null && !['string', 'number', 'boolean'].includes(typeof v))
        problems.push({ path, offset, message: 'found a value that is not text, a number or true/false', fix: 'write it as plain text' });
      continue;
    }
    if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) stack.push({ node: item, path: [...path, i] });
      continue;
    }
    if (!isMap(node)) continue;
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = pair.key;
      const keyOffset = (key as Node | null)?.range?.[0] ?? offset;
      const name = isScalar(key) ? String(key.value) : undefined;
      if (isScalar(key)) {
        const identity = `${typeof key.value}:${String(key.value)}`;
        if (seen.has(identity))
          duplicates.push({ offset: keyOffset, message: `Map keys must be unique: ${JSON.stringify(name)} is already a key of this mapping` });
        seen.add(identity);
      }
      // YAML allows a list or mapping as a key (`[a]: x`, `? {b: 1}`); JSON, and so Kubernetes,
      // has text keys only: the yaml package would turn it into the text "[ a ]" with a warning.
      if (key !== null && !isScalar(key) && !isAlias(key)) {
        problems.push({ path: [...path, '?'], offset: keyOffset, message: 'found a key that is a list or mapping', fix: 'write the key as plain text' });
        continue;
      }
      if (name !== undefined && isPrototypeName(name)) {
        problems.push({ ...prototypeKeyProblem([...path, name], name), offset: keyOffset });
        continue;
      }
      stack.push({ node: pair.value, path: [...path, name ?? '?'] });
    }
  }
  return { duplicates, problems };
}

/**
 * The same checks for a value from --set or a CI variable (already plain JavaScript): prototype
 * names as keys, nesting past CONFIG_LIMITS.depth counted from the root of gantry.yaml, values
 * that are not JSON-like. Problems are appended to `problems`.
 */
export function checkTree(value: unknown, base: (string | number)[], problems: Problem[]): void {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: base }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= CONFIG_LIMITS.depth) {
      problems.push({ path, message: `nested more than ${CONFIG_LIMITS.depth} levels deep`, fix: 'flatten the value' });
      continue;
    }
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) stack.push({ value: item, path: [...path, i] });
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== null && proto !== Object.prototype) {
      problems.push({ path, message: 'found a value that is not text, a number, true/false, a list or a mapping', fix: 'write it without a YAML tag' });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (isPrototypeName(key)) problems.push(prototypeKeyProblem([...path, key], key));
      else stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
}

/**
 * A copy of parsed YAML in which every mapping is a null-prototype object, made without recursion;
 * a value referenced twice (a YAML alias) is copied once and shared, as it was.
 */
export function nullPrototypeCopy(value: unknown): unknown {
  const copies = new Map<object, unknown>();
  const copyOf = (v: unknown, todo: [object, object][]): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const known = copies.get(v);
    if (known !== undefined) return known;
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && proto !== null && proto !== Object.prototype) return v;
    const copy: object = Array.isArray(v) ? [] : Object.create(null);
    copies.set(v, copy);
    todo.push([v, copy]);
    return copy;
  };
  const todo: [object, object][] = [];
  const root = copyOf(value, todo);
  while (todo.length > 0) {
    const [from, to] = todo.pop()!;
    if (Array.isArray(from)) for (const item of from) (to as unknown[]).push(copyOf(item, todo));
    else
      for (const key of Object.keys(from))
        Object.defineProperty(to, key, { value: copyOf((from as Record<string, unknown>)[key], todo), enumerable: true, writable: true, configurable: true });
  }
  return root;
}
