// Reading JavaScript and TypeScript without running it. `gantry init` never executes a user's
// code; it reads it. Comments are blanked (so a commented-out route does not count) and the
// insides of strings, templates and regular expressions are masked in a second copy, so that
// brackets can be matched and a "(" inside a string never confuses the reader. Both copies keep
// every offset and newline of the original, so a match anywhere maps back to its line.

export interface Source {
  file: string;
  /** The text with comments blanked (strings kept): patterns are matched here. */
  bare: string;
  /** `bare` with the insides of strings, templates and regular expressions blanked: brackets are matched here. */
  code: string;
}

const REGEX_AFTER = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^']);
const REGEX_AFTER_WORD = /(?:^|[^\w$.])(?:return|typeof|case|do|else|in|of|void|yield|await|delete|throw|new)$/;

export function parseSource(file: string, text: string): Source {
  const bare: string[] = [];
  const code: string[] = [];
  const blank = (c: string) => (c === '\n' || c === '\r' ? c : ' ');
  let i = 0;
  // The last character that is code (not space, not inside a comment or string): tells a
  // regular expression from a division.
  let last = '';
  const lastWord = () => code.slice(-16).join('').trimEnd();
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') {
        bare.push(' ');
        code.push(' ');
        i++;
      }
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (; i < stop; i++) {
        bare.push(blank(text[i]!));
        code.push(blank(text[i]!));
      }
      continue;
    }
    if (c === '"' || c === "'" || c === '`' || (c === '/' && (last === '' || REGEX_AFTER.has(last) || REGEX_AFTER_WORD.test(lastWord())))) {
      const stop = literalEnd(text, i);
      bare.push(c);
      code.push(c);
      for (let j = i + 1; j < stop - 1; j++) {
        bare.push(text[j]!);
        code.push(blank(text[j]!));
      }
      if (stop - 1 > i) {
        bare.push(text[stop - 1]!);
        code.push(text[stop - 1]!);
      }
      i = stop;
      last = c === '/' ? 'a' : '"';
      continue;
    }
    bare.push(c);
    code.push(c);
    if (!/\s/.test(c)) last = c;
    i++;
  }
  return { file, bare: bare.join(''), code: code.join('') };
}

/** The index just past the string, template or regular expression literal that starts at `start`. */
function literalEnd(text: string, start: number): number {
  const quote = text[start]!;
  let i = start + 1;
  let inClass = false;
  let depth = 0; // ${ ... } nesting inside a template
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (quote === '`') {
      if (c === '$' && text[i + 1] === '{') {
        depth++;
        i += 2;
        continue;
      }
      if (depth > 0 && c === '}') depth--;
      else if (depth === 0 && c === '`') return i + 1;
    } else if (quote === '/') {
      if (c === '\n') return i;
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) {
        i++;
        while (i < text.length && /[a-z]/i.test(text[i]!)) i++;
        return i;
      }
    } else {
      if (c === '\n') return i;
      if (c === quote) return i + 1;
    }
    i++;
  }
  return text.length;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** The index of the bracket that closes the one at `open`, or -1. */
export function closing(code: string, open: number): number {
  const stack: string[] = [];
  for (let i = open; i < code.length; i++) {
    const c = code[i]!;
    if (OPEN[c]) stack.push(OPEN[c]);
    else if (CLOSE[c]) {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/** The index of the bracket that opens the one closing at `close`, or -1. */
export function opening(code: string, close: number): number {
  const stack: string[] = [];
  for (let i = close; i >= 0; i--) {
    const c = code[i]!;
    if (CLOSE[c]) stack.push(CLOSE[c]);
    else if (OPEN[c]) {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}

/** The nearest unclosed bracket before `at` (the one `at` sits inside), or -1. */
export function enclosing(code: string, at: number): number {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    const c = code[i]!;
    if (CLOSE[c]) depth++;
    else if (OPEN[c]) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

export type Range = [start: number, end: number];

/** The comma-separated items between the brackets at `open` and `close`, trimmed; empty items dropped. */
export function items(code: string, open: number, close: number): Range[] {
  const out: Range[] = [];
  let depth = 0;
  let start = open + 1;
  const push = (end: number) => {
    let s = start;
    let e = end;
    while (s < e && /\s/.test(code[s]!)) s++;
    while (e > s && /\s/.test(code[e - 1]!)) e--;
    if (e > s) out.push([s, e]);
  };
  for (let i = open + 1; i < close; i++) {
    const c = code[i]!;
    if (OPEN[c]) depth++;
    else if (CLOSE[c]) depth--;
    else if (c === ',' && depth === 0) {
      push(i);
      start = i + 1;
    }
  }
  push(close);
  return out;
}

/** The value of the one string literal that fills `range` (no `${}`), else undefined. */
export function stringAt(src: Source, [s, e]: Range): string | undefined {
  const quote = src.bare[s];
  if ((quote !== "'" && quote !== '"' && quote !== '`') || src.bare[e - 1] !== quote || e - s < 2) return undefined;
  // The whole range must be one literal: its closing quote is the range's last character.
  if (literalEnd(src.bare, s) !== e) return undefined;
  const inner = src.bare.slice(s + 1, e - 1);
  if (quote === '`' && inner.includes('${')) return undefined;
  return inner.replace(/\\(.)/g, '$1');
}

/** A string literal, or an array of string literals, filling `range`. */
export function stringsAt(src: Source, range: Range): string[] | undefined {
  const one = stringAt(src, range);
  if (one !== undefined) return [one];
  const [s, e] = range;
  if (src.code[s] !== '[' || closing(src.code, s) !== e - 1) return undefined;
  const values = items(src.code, s, e - 1).map((r) => stringAt(src, r));
  return values.length > 0 && values.every((v) => v !== undefined) ? (values as string[]) : undefined;
}

/** The `key: value` entries of the object literal whose braces are at `open` and `close`. */
export function entries(src: Source, open: number, close: number): Map<string, Range> {
  const out = new Map<string, Range>();
  for (const [s, e] of items(src.code, open, close)) {
    const m = /^(?:(\w+)|'(\w+)'|"(\w+)")\s*:/.exec(src.bare.slice(s, e));
    if (m) {
      let vs = s + m[0].length;
      while (vs < e && /\s/.test(src.code[vs]!)) vs++;
      out.set((m[1] ?? m[2] ?? m[3])!, [vs, e]);
    } else {
      // shorthand { handler }
      const short = /^(\w+)$/.exec(src.bare.slice(s, e));
      if (short) out.set(short[1]!, [s, e]);
    }
  }
  return out;
}

export function lineOf(src: Source, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < src.bare.length; i++) if (src.bare[i] === '\n') line++;
  return line;
}

/** The source text of `range` on one line, shortened to `max` characters. */
export function snippet(src: Source, [s, e]: Range, max = 48): string {
  const text = src.bare.slice(s, e).replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Is `at` in code (not inside a string, template, regular expression or comment)? */
export function isCode(src: Source, at: number): boolean {
  return src.code[at] === src.bare[at] && src.bare[at] !== ' ';
}
