// No step has to remember to mask a secret that came in a CI variable: the context does it.
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';

function ctxWith(env: Record<string, string>) {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  return { ctx: createCtx({ logger, env }), log: () => out };
}

const kubeconfig = `apiVersion: v1
clusters:
- name: c
  cluster: { server: 'https://10.0.0.1:6443' }
users:
- name: u
  user:
    token: eyJhbGciOi.kube-sa-token
contexts:
- name: x
  context: { cluster: c, user: u }
current-context: x
`;

test("values of FOO_PASSWORD, BAR_TOKEN, K8S_SECRET_X and a kubeconfig's token never appear in the log", () => {
  const { ctx, log } = ctxWith({
    FOO_PASSWORD: 'hunter2-password',
    BAR_TOKEN: 'glpat-abcdefgh1234',
    K8S_SECRET_X: 'postgres://app:pw@db/app',
    KUBECONFIG_STAGING: kubeconfig,
    GANTRY_OSS_ACCESS_KEY_SECRET: 'oss-secret-value',
    CI_COMMIT_SHA: 'deadbeefcafe',
  });
  ctx.logger.info('login with hunter2-password');
  ctx.logger.warn('GitLab said: bad token glpat-abcdefgh1234');
  ctx.logger.error(`could not connect to postgres://app:pw@db/app (base64 ${Buffer.from('postgres://app:pw@db/app').toString('base64')})`);
  ctx.logger.info('Authorization: Bearer eyJhbGciOi.kube-sa-token');
  ctx.logger.info('signed with oss-secret-value at commit deadbeefcafe');
  const text = log();
  for (const secret of ['hunter2-password', 'glpat-abcdefgh1234', 'postgres://app:pw@db/app', 'eyJhbGciOi.kube-sa-token', 'oss-secret-value'])
    expect(text).not.toContain(secret);
  expect(text).toContain('Authorization: Bearer [MASKED]');
  expect(text).toContain('at commit deadbeefcafe');
});

test('a secret variable too short to mask safely is left alone, as addSecret does', () => {
  const { ctx, log } = ctxWith({ SHORT_TOKEN: 'ab' });
  ctx.logger.info('a tab');
  expect(log()).toBe('a tab\n');
});
