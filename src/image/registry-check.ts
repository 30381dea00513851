// Whether the registry accepts the push credentials, without Docker: GET /v2/ with basic auth,
// and when the registry answers 401 with `WWW-Authenticate: Bearer realm=...` (ACR, Docker
// Hub, Harbor), the token flow of the distribution spec: ask the realm for a token with the
// same basic auth, then GET /v2/ with it. The password only ever goes into Authorization.
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { asLocalError, isTimeout, noAnswerText, withinMs, withRetry } from '../retry.js';

export interface RegistryLogin {
  host: string;
  user: string;
  password: string;
}

export interface RegistryCheckResult {
  url: string;
  /** basic: /v2/ accepted basic auth; bearer: a token from the realm was accepted. */
  scheme: 'basic' | 'bearer';
}

/** http:// for a registry on this machine (a test or a port-forward), https:// everywhere else. */
export function registryBaseUrl(host: string): string {
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const local = hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '::1';
  return `${local ? 'http' : 'https'}://${host}`;
}

/** The auth-params of a WWW-Authenticate challenge: Bearer realm="...",service="...",scope="...". */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

export async function checkRegistryLogin(ctx: Ctx, login: RegistryLogin, options: { timeoutMs?: number } = {}): Promise<RegistryCheckResult> {
  const timeoutMs = options.timeoutMs ?? ctx.deadlines.requestMs;
  const base = registryBaseUrl(login.host);
  const url = `${base}/v2/`;
  const basic = `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;
  // The password is a CI variable ctx masks by its name; the basic auth made of it is new.
  ctx.logger.addSecret(basic.slice(6));
  const refused = (status: number, answeredBy: string) => gantryError('E_REGISTRY_AUTH', { host: login.host, user: login.user, answeredBy, status });

  const get = async (target: string, authorization: string, readJson = false): Promise<{ status: number; ok: boolean; headers: Headers; json: unknown }> => {
    try {
      const res = await withinMs(
        timeoutMs,
        fetch(target, {
          headers: { authorization, 'user-agent': 'gantry-doctor' },
          redirect: 'follow',
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
        }),
      );
      let json: unknown;
      if (readJson && res.ok) json = await res.json().catch(() => undefined);
      // Otherwise only the status and headers matter: free the connection.
      else await res.body?.cancel().catch(() => undefined);
      return { status: res.status, ok: res.ok, headers: res.headers, json };
    } catch (error) {
      const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer within ${timeoutMs / 1000} s`
          : `${e.cause?.code ?? e.cause?.message ?? e.message ?? String(error)}`;
      throw gantryError(
        'E_REGISTRY_UNREACHABLE',
        { problem: 'no-answer', get: `${new URL(target).origin}${new URL(target).pathname}`, why, host: login.host, scheme: base.split(':')[0]! },
        { cause: error },
      );
    }
  };

  const first = await get(url, basic);
  if (first.ok) return { url, scheme: 'basic' };
  if (first.status !== 401) {
    throw gantryError('E_REGISTRY_UNREACHABLE', { problem: 'not-registry', url, status: first.status, host: login.host });
  }
  const challenge = parseChallenge(first.headers.get('www-authenticate'));
  if (challenge?.scheme !== 'bearer' || !challenge.params.realm) throw refused(401, '/v2/');

  // The token endpoint takes the same basic auth; service and scope come from the challenge.
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm);
  } catch {
    throw gantryError('E_REGISTRY_UNREACHABLE', { problem: 'bad-realm', host: login.host, realm: challenge.params.realm });
  }
  if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
  if (challenge.params.scope) realm.searchParams.set('scope', challenge.params.scope);
  const tokenAnswer = await get(realm.toString(), basic, true);
  if (tokenAnswer.status === 401 || tokenAnswer.status === 403) throw refused(tokenAnswer.status, `the token service ${realm.origin}${realm.pathname}`);
  if (!tokenAnswer.ok)
    throw gantryError('E_REGISTRY_UNREACHABLE', { problem: 'token-status', tokenService: `${realm.origin}${realm.pathname}`, status: tokenAnswer.status });
  const body = (tokenAnswer.json ?? {}) as { token?: unknown; access_token?: unknown };
  const token =
    typeof body.token === 'string' && body.token ? body.token : typeof body.access_token === 'string' && body.access_token ? body.access_token : undefined;
  if (!token) throw gantryError('E_REGISTRY_UNREACHABLE', { problem: 'no-token', tokenService: `${realm.origin}${realm.pathname}`, host: login.host });
  ctx.logger.addSecret(token);
  const second = await get(url, `Bearer ${token}`);
  if (second.ok) return { url, scheme: 'bearer' };
  throw refused(second.status, '/v2/ with the token');
}

/**
 * Before a build that will be pushed: whether the registry answers at all (GET /v2/, no
 * credentials; any HTTP status counts). Only silence is an error here, E_REGISTRY_UNREACHABLE
 * with the host and the time waited, so a registry that accepts connections and never answers
 * fails the step in seconds instead of after a long build. Anything else (a refused connection,
 * an unknown host, a TLS problem) is left to `docker login`/`docker push`, which report it in
 * their own words and retry it.
 */
export async function checkRegistryAnswers(ctx: Ctx, host: string): Promise<boolean> {
  const url = `${registryBaseUrl(host)}/v2/`;
  try {
    await withRetry(
      ctx,
      `GET ${url}`,
      async () => {
        const res = await withinMs(
          ctx.deadlines.requestMs,
          fetch(url, {
            headers: { 'user-agent': 'gantry' },
            redirect: 'manual',
            signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.deadlines.requestMs)]),
          }),
        ).catch((error: unknown) => {
          throw asLocalError(error);
        });
        await res.body?.cancel().catch(() => undefined);
      },
      { isTransient: (error) => isTimeout(error) && !ctx.signal.aborted, retries: 1, minDelayMs: 200 },
    );
    return true;
  } catch (error) {
    if (!isTimeout(error) || ctx.signal.aborted) return false;
    throw gantryError(
      'E_REGISTRY_UNREACHABLE',
      { problem: 'no-answer', get: url, why: `${host}: ${noAnswerText(ctx.deadlines, error)}`, host, scheme: url.split(':')[0]! },
      { cause: error },
    );
  }
}
