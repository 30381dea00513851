// Which GitLab Gantry talks to, with which token, and which failures it retries.
import { createCtx } from '../../../src/context.js';
import { GantryError } from '../../../src/errors.js';
import { gitlabError, gitlabFromEnv, gitlabHost, isTransientGitlabError } from '../../../src/gitlab/client.js';
import { createLogger } from '../../../src/log/logger.js';

function ctxWith(env: Record<string, string>) {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env }), log: () => out };
}

describe('gitlabHost', () => {
  test('CI_SERVER_URL wins; CI_API_V4_URL without /api/v4 is the fallback; a relative-URL install keeps its path', () => {
    expect(gitlabHost({ CI_SERVER_URL: 'https://gitlab.example.com/', CI_API_V4_URL: 'https://other.example.com/api/v4' })).toBe('https://gitlab.example.com');
    expect(gitlabHost({ CI_API_V4_URL: 'https://gitlab.example.com/api/v4' })).toBe('https://gitlab.example.com');
    expect(gitlabHost({ CI_SERVER_URL: 'https://example.com/gitlab' })).toBe('https://example.com/gitlab');
  });

  test('no instance, or one that is not an http(s) URL, is bad input: there is no default host', () => {
    expect(() => gitlabHost({})).toThrow(expect.objectContaining({ code: 'E_GITLAB_URL_MISSING' }));
    expect(() => gitlabHost({ CI_SERVER_URL: 'ftp://gitlab.example.com' })).toThrow(expect.objectContaining({ code: 'E_GITLAB_URL' }));
  });

  test('GANTRY_GITLAB_URL wins over both, and an error names the variable the bad value came from', () => {
    expect(gitlabHost({ GANTRY_GITLAB_URL: 'http://10.0.0.5:8080/', CI_SERVER_URL: 'https://gitlab.example.com' })).toBe('http://10.0.0.5:8080');
    expect(() => gitlabHost({ GANTRY_GITLAB_URL: 'not a url', CI_SERVER_URL: 'https://gitlab.example.com' })).toThrow(
      expect.objectContaining({ code: 'E_GITLAB_URL', message: 'GANTRY_GITLAB_URL=not a url is not a URL' }),
    );
    expect(() => gitlabHost({ CI_API_V4_URL: 'ftp://x/api/v4' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/^CI_API_V4_URL=/) }));
  });
});

describe('gitlabFromEnv', () => {
  const host = { CI_SERVER_URL: 'http://127.0.0.1:1' };

  test('GANTRY_GITLAB_TOKEN is preferred over CI_JOB_TOKEN, and both are masked', () => {
    const { ctx } = ctxWith({});
    const c = gitlabFromEnv(ctx, { ...host, GANTRY_GITLAB_TOKEN: 'glpat-abcdefgh12345678', CI_JOB_TOKEN: 'job-token-12345678' });
    expect(c).toMatchObject({ tokenKind: 'private', tokenVariable: 'GANTRY_GITLAB_TOKEN', host: 'http://127.0.0.1:1' });
    expect(ctx.logger.mask('a glpat-abcdefgh12345678 b job-token-12345678')).toBe('a [MASKED] b [MASKED]');
    expect(gitlabFromEnv(ctx, { ...host, CI_JOB_TOKEN: 'job-token-12345678' }).tokenKind).toBe('job');
  });

  test('no token at all is E_GITLAB_TOKEN (exit 2) naming both variables', () => {
    const { ctx } = ctxWith({});
    let error: unknown;
    try {
      gitlabFromEnv(ctx, { ...host, GANTRY_GITLAB_TOKEN: ' ' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).code).toBe('E_GITLAB_TOKEN');
    expect((error as GantryError).exitCode).toBe(2);
    expect((error as GantryError).message).toContain('GANTRY_GITLAB_TOKEN');
    expect((error as GantryError).message).toContain('CI_JOB_TOKEN');
  });
});

describe('failures', () => {
  const answered = (status: number) => Object.assign(new Error('x'), { name: 'GitbeakerRequestError', cause: { description: 'x', response: { status } } });
  const client = { host: 'https://gitlab.example.com', tokenKind: 'job' as const, tokenVariable: 'CI_JOB_TOKEN' as const };

  test('5xx, resets and timeouts are transient; 4xx and gitbeaker giving up are not', () => {
    expect(isTransientGitlabError(answered(500))).toBe(true);
    expect(isTransientGitlabError(answered(503))).toBe(true);
    expect(isTransientGitlabError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }))).toBe(true);
    expect(isTransientGitlabError(Object.assign(new Error('Query timeout was reached'), { name: 'GitbeakerTimeoutError' }))).toBe(true);
    expect(isTransientGitlabError(answered(401))).toBe(false);
    expect(isTransientGitlabError(answered(404))).toBe(false);
    // gitbeaker's own 429/502 retries last about 0.26 s in all: worth retrying with backoff.
    expect(isTransientGitlabError(Object.assign(new Error('after 10 retries'), { name: 'GitbeakerRetryError' }))).toBe(true);
  });

  test('401/403 become E_GITLAB_ACCESS with a fix that fits the token kind; 404 is E_GITLAB_API', () => {
    const denied = gitlabError(client, 'create a note', answered(401));
    expect(denied).toMatchObject({ code: 'E_GITLAB_ACCESS', exitCode: 1 });
    expect(denied.fix).toContain('GANTRY_GITLAB_TOKEN');
    expect(gitlabError({ ...client, tokenKind: 'private', tokenVariable: 'GANTRY_GITLAB_TOKEN' }, 'x', answered(403)).fix).toContain('api scope');
    expect(gitlabError(client, 'x', answered(404)).code).toBe('E_GITLAB_API');
    expect(gitlabError(client, 'x', new TypeError('fetch failed')).code).toBe('E_GITLAB_UNREACHABLE');
  });
});
