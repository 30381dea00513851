// Credentials recognised by their shape: a new call site that prints a URL with a password or a
// Basic header cannot leak it, even when nobody registered the value.
import { decodeBasic, isSecretFlag, maskCredentialShapes, secretArgs, urlPasswords } from '../../../src/log/credentials.js';
import { createLogger } from '../../../src/log/logger.js';

function capture() {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { logger, text: () => out };
}

const basic = (pair: string) => Buffer.from(pair).toString('base64');

describe('a password in a URL is masked on every line, the host kept', () => {
  test('scheme://user:password@host becomes scheme://user:[MASKED]@host, whatever the scheme', () => {
    const { logger, text } = capture();
    logger.info('cannot reach https://deployer:s3cretpass@47.96.1.2:6443/version (ECONNREFUSED)');
    logger.warn('retrying postgres://app:db-pass-1234@db.internal:5432/app');
    logger.error('redis://:only-a-password@cache:6379 refused');
    expect(text()).toBe(
      [
        'cannot reach https://deployer:[MASKED]@47.96.1.2:6443/version (ECONNREFUSED)',
        'warning: retrying postgres://app:[MASKED]@db.internal:5432/app',
        'redis://:[MASKED]@cache:6379 refused',
        '',
      ].join('\n'),
    );
  });

  test('the password is learnt: a later line that quotes it bare, or percent-decoded, is masked too', () => {
    const { logger, text } = capture();
    logger.info('GitLab at https://root:gl%2Fpass%40word@gitlab.example.com');
    logger.info('401 for gl/pass@word and gl%2Fpass%40word');
    expect(text()).toBe('GitLab at https://root:[MASKED]@gitlab.example.com\n401 for [MASKED] and [MASKED]\n');
  });

  test('an unencoded "@" in the password: masked up to the last "@" before the host, as URL parsers read it', () => {
    expect(maskCredentialShapes('http://u:p@ss@host:80/x')).toBe('http://u:[MASKED]@host:80/x');
  });

  test('a URL quoted in JSON does not swallow what follows it', () => {
    const json = JSON.stringify({ server: 'http://u:pw-1234@127.0.0.1:6443', owner: 'ops@example.com' });
    expect(maskCredentialShapes(json)).toBe('{"server":"http://u:[MASKED]@127.0.0.1:6443","owner":"ops@example.com"}');
  });

  test('a registered value that is a whole URL (K8S_SECRET_DATABASE_URL) is masked whole', () => {
    const { logger, text } = capture();
    logger.addSecret('postgres://app:Sup3r-S3cret-Pw@db:5432/app');
    logger.warn('could not connect to postgres://app:Sup3r-S3cret-Pw@db:5432/app');
    expect(text()).toBe('warning: could not connect to [MASKED]\n');
  });

  test('a password too short to learn is still masked in its URL, and not elsewhere', () => {
    const { logger, text } = capture();
    logger.info('http://u:pw@h/ then pw');
    expect(text()).toBe('http://u:[MASKED]@h/ then pw\n');
  });

  test('URLs without a password, ports, emails in paths and image digests are left alone', () => {
    for (const line of [
      'https://gitlab.example.com/acme/hello/-/pipelines/1',
      'ssh://git@gitlab.example.com:2222/acme/hello.git',
      'http://127.0.0.1:8080/mail/ops@example.com',
      'registry.example.com/acme/hello:1.0@sha256:0123abcd',
      'https://47.96.1.2:6443',
    ])
      expect(maskCredentialShapes(line)).toBe(line);
  });

  test('a GitLab section header is masked like a line', async () => {
    let out = '';
    const logger = createLogger({ write: (t) => (out += t), gitlab: true, color: false, now: () => 1 });
    await logger.section('s', 'connect to https://u:hdr-pass-99@host', async () => {});
    expect(out).toContain('connect to https://u:[MASKED]@host');
    expect(out).not.toContain('hdr-pass-99');
  });
});

describe('Basic auth is masked by its shape', () => {
  test('an Authorization: Basic header is masked, and its pair and password are learnt', () => {
    const { logger, text } = capture();
    logger.info(`Authorization: Basic ${basic('robot$acme:hunter2-basic')}`);
    logger.info(`headers {"authorization":"basic ${basic('robot$acme:hunter2-basic')}"}`);
    logger.info('then robot$acme:hunter2-basic and hunter2-basic');
    expect(text()).toBe('Authorization: Basic [MASKED]\nheaders {"authorization":"basic [MASKED]"}\nthen [MASKED] and [MASKED]\n');
  });

  test('prose and base64 that is not a user:password pair are left alone', () => {
    for (const line of ['registry.example.com accepts robot (basic auth)', 'Basic realm="registry"', `Basic ${basic('no colon here')}`, 'basic aGVsbG8'])
      expect(maskCredentialShapes(line)).toBe(line);
  });

  test('decodeBasic: only clean base64 of printable user:password', () => {
    expect(decodeBasic(basic('u:p w'))).toEqual({ pair: 'u:p w', password: 'p w' });
    expect(decodeBasic(basic('u\u0000:p'))).toBeUndefined();
    expect(decodeBasic('auth')).toBeUndefined();
  });
});

describe('secret-looking command arguments (exec plugins, auth-provider cmd-args)', () => {
  test('the value of a secret-named flag, in both spellings, and URL passwords', () => {
    expect(
      secretArgs([
        'credential-plugin',
        'get-token',
        '--cluster-id',
        'c123',
        '--token',
        'tok-value-1',
        '--access-key-secret=ak-secret-2',
        '--secret-access-key',
        'aws-secret-3',
        '--proxy=http://p:proxy-pw-4@proxy:3128',
        '--token-file',
        '/var/run/token',
        '--access-key-id',
        'LTAI-id',
        '--auth-type',
        'oidc',
      ]),
    ).toEqual(['tok-value-1', 'ak-secret-2', 'aws-secret-3', 'proxy-pw-4']);
  });

  test('isSecretFlag names', () => {
    for (const flag of ['--token', '--password', '--client-secret', '--api-key', '--private-key', '--basic-auth', '--credentials', '-token'])
      expect([flag, isSecretFlag(flag)]).toEqual([flag, true]);
    for (const flag of ['token', '--token-file', '--access-key-id', '--auth-type', '--cluster-name', '-p', '--'])
      expect([flag, isSecretFlag(flag)]).toEqual([flag, false]);
  });

  test('urlPasswords: the password as written and decoded, not the user', () => {
    expect(urlPasswords('a http://u:p%20w@h b')).toEqual(['p%20w', 'p w']);
    expect(urlPasswords('https://host/x')).toEqual([]);
  });
});
