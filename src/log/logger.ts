// CI log: everything human goes to stderr (stdout carries only machine output), in GitLab
// collapsible sections, colour only on a TTY, and every known secret value masked, as well as
// every credential recognisable by its shape (src/log/credentials.ts: a URL's userinfo password,
// a Basic auth pair), whether or not anyone registered it.
import { ciVariables } from '../ci/variables.js';
import { MASK, maskCredentialShapes } from './credentials.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Run `fn` inside a collapsible GitLab section (plain headers outside GitLab CI). */
  section<T>(name: string, header: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Register values that must never be printed. createCtx registers the secret-named CI
   * variables (src/ci/variables.ts secretValues) itself; this is for values made later (a
   * token from a token service, a decoded credential, basic auth built from a pair).
   */
  addSecret(value: string | undefined): void;
  /**
   * The text as it may be printed: credentials by shape replaced (`https://user:[MASKED]@host`,
   * `Basic [MASKED]`) and learnt as secrets, then every registered secret replaced.
   */
  mask(text: string): string;
}

export interface LoggerOptions {
  write?: (text: string) => void;
  color?: boolean;
  gitlab?: boolean;
  now?: () => number;
}

const ESC = '\u001b';

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const color = options.color ?? Boolean(process.stderr.isTTY);
  const gitlab = options.gitlab ?? ciVariables(process.env).predefined.gitlabCi === 'true';
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const secrets = new Set<string>();

  const paint = (code: string, text: string) => (color ? `${ESC}[${code}m${text}${ESC}[0m` : text);
  // Very short values would mask ordinary words; GitLab itself refuses to mask under 8.
  const addSecret = (value: string | undefined) => {
    if (!value || value.length < 4) return;
    secrets.add(value);
    // Messages quote what they refuse as JSON (a newline shows as \n): a secret with a quote,
    // backslash or control character must be masked in that form too.
    const quoted = JSON.stringify(value).slice(1, -1);
    if (quoted !== value) secrets.add(quoted);
  };
  const mask = (text: string): string => {
    // A password seen in a URL is a secret from then on: the same line may quote it bare.
    maskCredentialShapes(text, addSecret);
    let out = text;
    // Longest first, so a secret that contains another is masked whole (a registered
    // DATABASE_URL is one [MASKED], not a URL with its password masked).
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(MASK);
    // What is left by shape: passwords too short to register, which are still passwords in a URL.
    return maskCredentialShapes(out);
  };
  const line = (text: string) => write(`${mask(text)}\n`);

  return {
    info: (message) => line(message),
    warn: (message) => line(paint('33', `warning: ${message}`)),
    error: (message) => line(paint('31', message)),
    addSecret,
    mask,
    async section(name, header, fn) {
      const id = name.replace(/[^a-zA-Z0-9_.-]/g, '_');
      if (gitlab) write(`${ESC}[0Ksection_start:${now()}:${id}[collapsed=true]\r${ESC}[0K${mask(header)}\n`);
      else line(paint('1', `== ${header}`));
      try {
        return await fn();
      } finally {
        if (gitlab) write(`${ESC}[0Ksection_end:${now()}:${id}\r${ESC}[0K\n`);
      }
    },
  };
}
