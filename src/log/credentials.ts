// Credentials that can be recognised by their shape, whatever variable or file they came from:
// the password in a URL's userinfo (a kubeconfig server, a proxy, GANTRY_GITLAB_URL, a
// DATABASE_URL), the pair in an `Authorization: Basic` header, and the value of a command-line
// flag whose name says it is secret (exec plugins' args). The logger masks these shapes on every
// line so that a new call site cannot forget to register them; the CI variables and the
// kubeconfig reader use the same rules to register the bare values before anything is printed.

export const MASK = '[MASKED]';

// scheme://user:password@ — the password runs to the last "@" before the host (as the WHATWG URL
// parser reads `https://u:p@ss@host`), and stops at whitespace, quotes and brackets so a URL
// quoted in JSON or markdown does not swallow the text after it.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:'"`<>]*):([^\s/?#'"`<>]*)@/gi;

// `Basic <base64>` whose decoding is "user:password" (RFC 7617); anything else that follows the
// word (prose such as "basic auth") decodes to noise without a colon and is left alone.
const BASIC_AUTH = /\b(basic)(\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])/gi;

/** The user:password pair a Basic credential stands for, or undefined when `encoded` is not one. */
export function decodeBasic(encoded: string): { pair: string; password: string } | undefined {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  // A clean round trip (valid base64, valid UTF-8), printable, with the user before the colon.
  if (Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what rules the decoding out
  if (/[\u0000-\u001f\u007f\ufffd]/.test(decoded)) return undefined;
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { pair: decoded, password: decoded.slice(colon + 1) };
}

/** A value and, when it differs, its percent-decoded form (a URL's userinfo is percent-encoded). */
function withDecoded(value: string): string[] {
  try {
    const decoded = decodeURIComponent(value);
    return decoded === value ? [value] : [value, decoded];
  } catch {
    return [value];
  }
}

/**
 * Replaces the credentials `text` shows by their shape: a URL's userinfo password becomes
 * `scheme://user:[MASKED]@host`, a Basic credential `Basic [MASKED]`. `learn` receives each
 * credential found (a URL's password as written and percent-decoded; a Basic credential's base64,
 * user:password pair and password), so the caller can mask them wherever else they appear.
 */
export function maskCredentialShapes(text: string, learn: (secret: string) => void = () => {}): string {
  let out = text;
  if (out.includes('://')) {
    out = out.replace(URL_USERINFO, (_, scheme: string, user: string, password: string) => {
      if (password === '' || password === MASK) return `${scheme}${user}:${password}@`;
      // Not the user:password pair: masked whole, it would hide the user a reader needs.
      for (const form of withDecoded(password)) learn(form);
      return `${scheme}${user}:${MASK}@`;
    });
  }
  if (/basic/i.test(out)) {
    out = out.replace(BASIC_AUTH, (whole, word: string, space: string, encoded: string) => {
      const basic = decodeBasic(encoded);
      if (!basic) return whole;
      learn(encoded);
      learn(basic.pair);
      learn(basic.password);
      return `${word}${space}${MASK}`;
    });
  }
  return out;
}

/** The passwords in the URLs of `text`, as written and percent-decoded. */
export function urlPasswords(text: string): string[] {
  const out: string[] = [];
  maskCredentialShapes(text, (secret) => out.push(secret));
  return out;
}

// A flag whose name says its value is secret: --token, --password, --client-secret,
// --access-key-secret, --secret-access-key, --api-key, --basic-auth. A flag naming where a secret
// is or which one it is (--token-file, --access-key-id, --auth-type) holds no secret itself.
const SECRET_WORD = /^(token|password|passwd|pass|passphrase|secret|credentials?|auth)$/;
const SECRET_PAIR = /(^|-)(api|private|access|secret|signing|client)-key(-|$)/;
const NOT_A_VALUE = /^(file|path|dir|type|name|id|url|mode|provider|method|kind)$/;

export function isSecretFlag(flag: string): boolean {
  const name = flag.replace(/^--?/, '').toLowerCase();
  if (name === flag.toLowerCase() || name === '') return false;
  const words = name.split(/[-_]/);
  if (NOT_A_VALUE.test(words.at(-1)!)) return false;
  return words.some((w) => SECRET_WORD.test(w)) || SECRET_PAIR.test(name.replace(/_/g, '-'));
}

/**
 * The values among a command's arguments that look like secrets: the value of a secret-named flag
 * (`--token abc`, `--token=abc`), and credentials by shape (a URL with a password, a Basic pair).
 */
export function secretArgs(args: readonly unknown[]): string[] {
  const out: string[] = [];
  const strings = args.filter((a): a is string => typeof a === 'string');
  strings.forEach((arg, i) => {
    const eq = arg.indexOf('=');
    if (arg.startsWith('-') && eq > 0 && isSecretFlag(arg.slice(0, eq))) out.push(arg.slice(eq + 1));
    else if (isSecretFlag(arg) && i + 1 < strings.length && !strings[i + 1]!.startsWith('-')) out.push(strings[i + 1]!);
    out.push(...urlPasswords(arg));
  });
  return out.filter((v) => v !== '');
}
