// Turns schema issues into problems a person can act on: the dotted path, where the value
// came from, what was found, what was expected, and how to fix it ("did you mean" included).
import { closest, distance } from 'fastest-levenshtein';
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
