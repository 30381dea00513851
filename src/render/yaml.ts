// YAML that every Kubernetes parser reads back exactly. The API server and kubectl read YAML
// with go-yaml, a YAML 1.1 resolver: plain `yes`, `on`, `0o10`, `1_000` or `2001-12-14` are not
// strings there, and raw control characters are rejected. So a string is written plain only
// when it is unambiguous under both YAML 1.1 and 1.2; everything else is double-quoted with
// every non-printable character escaped.
import YAML, { type Document } from 'yaml';
import type { Scalar } from 'yaml';
import { documentProblems } from '../config/problems.js';

// Starts with a letter, "_" or "/": never a number, date or special value in either version.
// ":" is allowed inside (images, URLs) but not last, where it would start a mapping.
const safeWord = /^[A-Za-z_/][A-Za-z0-9_./@+=:-]*$/;
// Quantities such as 250m, 512Mi, 10Gi: digits then letters, where the first letter is not one
// that makes a number (1e3, 0x10, 0o7, 0b1) in YAML 1.1, YAML 1.2 or Go's number parsing.
const safeQuantity = /^[0-9]+(\.[0-9]+)?[ac-dfg-np-wyzA-DF-NP-WYZ][A-Za-z]*$/;
// Words that YAML 1.1 or 1.2 resolve to booleans, null, or special floats.
const reserved = /^(y|n|yes|no|true|false|on|off|null|nan|inf|infinity)$/i;

const namedEscapes: Record<string, string> = {
  '\0': '\\0',
  '\x07': '\\a',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\v': '\\v',
  '\f': '\\f',
  '\r': '\\r',
  '\x1b': '\\e',
  '"': '\\"',
  '\\': '\\\\',
  '\x85': '\\N',
  '\u2028': '\\L',
  '\u2029': '\\P',
};

function needsEscape(cp: number): boolean {
  // Outside YAML's printable set, a line break in YAML 1.1, or the byte-order mark.
  return (
    cp < 0x20 ||
    cp === 0x7f ||
    (cp >= 0x80 && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff ||
    cp === 0xfffe ||
    cp === 0xffff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

/** A YAML double-quoted scalar for `value`. */
export function quoteYaml(value: string): string {
  let out = '"';
  for (const ch of value) {
    const named = namedEscapes[ch];
    if (named) {
      out += named;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    if (needsEscape(cp)) out += cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * The regexes the yaml library uses to give a plain scalar a type other than string, in its
 * YAML 1.2 core and YAML 1.1 schemas (they catch e.g. `e1`, a float in its 1.1 schema).
 * Computed once per render and passed along.
 */
export function implicitTypePatterns(): RegExp[] {
  return ['core', 'yaml-1.1'].flatMap((schema) =>
    new YAML.Schema({ schema }).tags.flatMap((tag) => (tag.default === true && tag.test instanceof RegExp ? [tag.test] : [])),
  );
}

/** A scalar string as YAML text: plain when unambiguous, else double-quoted. */
export function yamlString(value: string, implicit: RegExp[] = implicitTypePatterns()): string {
  const candidate = (safeWord.test(value) && !value.endsWith(':') && !reserved.test(value)) || safeQuantity.test(value);
  return candidate && !implicit.some((pattern) => pattern.test(value)) ? value : quoteYaml(value);
}

/** Block-style YAML for one object, strings written as above. No line folding. */
export function toYaml(value: unknown, implicit: RegExp[] = implicitTypePatterns()): string {
  const customTags = (tags: YAML.Tags): YAML.Tags =>
    tags.map((tag) =>
      typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:str' && !tag.collection
        ? ({ ...tag, stringify: (item: Scalar) => yamlString(String(item.value), implicit) } as YAML.ScalarTag)
        : tag,
    );
  return YAML.stringify(value, { customTags, lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false });
}

export interface ParsedDocument {
  value: unknown;
  /** 1-based line of the document start in the source text. */
  line: number;
}

/** Parses a multi-document YAML stream; syntax errors carry line numbers. */
export function parseYamlStream(text: string): { docs: ParsedDocument[]; errors: string[] } {
  const lineCounter = new YAML.LineCounter();
  // yaml's own duplicate-key check compares each key with every earlier one (an env ConfigMap of
  // 38k keys took minutes): off, and the same check made with one Set per mapping.
  const documents: Document.Parsed[] = YAML.parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false }) as Document.Parsed[];
  const errors: string[] = [];
  const docs: ParsedDocument[] = [];
  for (const doc of documents) {
    for (const error of doc.errors) {
      const pos = lineCounter.linePos(error.pos[0]);
      errors.push(`line ${pos.line}: ${error.message.split('\n')[0]}`);
    }
    for (const duplicate of documentProblems(doc).duplicates) errors.push(`line ${lineCounter.linePos(duplicate.offset).line}: ${duplicate.message}`);
    if (doc.errors.length === 0) docs.push({ value: doc.toJS({ maxAliasCount: 0 }), line: lineCounter.linePos(doc.range[0]).line });
  }
  return { docs, errors };
}
