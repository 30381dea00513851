// What render is handed from outside gantry.yaml (--image, the commit, K8S_SECRET_* variables)
// is held to Kubernetes' limits before a manifest exists.
import { ciSecret } from '../../../src/render/secret.js';
import { buildView } from '../../../src/render/view.js';
import { ciContext, fullConfig } from '../../support/fixtures.js';

test('an empty --image is refused, not replaced by the commit tag', () => {
  expect(() => buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: '' })).toThrow(
    expect.objectContaining({ code: 'E_IMAGE_REF', message: expect.stringContaining('--image: "" is not an image reference (it is empty)') }),
  );
  expect(buildView({ config: fullConfig(), envName: 'staging', ci: ciContext(), image: undefined }).image).toMatch(/:01234567$/);
});

test.each(['0123 4567', 'abc\nimage: x', '-abc', 'x'.repeat(129)])('a commit tag %p that is not an image tag is refused, naming its variable', (sha) => {
  expect(() => buildView({ config: fullConfig(), envName: 'staging', ci: ciContext({ CI_COMMIT_SHORT_SHA: sha }) })).toThrow(
    expect.objectContaining({ code: 'E_IMAGE_REF', exitCode: 2, message: expect.stringContaining('CI_COMMIT_SHORT_SHA') }),
  );
});

test('the K8S_SECRET_* Secret is refused above 1 MiB of values, naming the largest variables and never a value', () => {
  const exactly = { K8S_SECRET_A: 'a'.repeat(1024 * 1024 - 2), K8S_SECRET_B: 'bb' };
  expect(ciSecret(exactly, 'shop')?.name).toBe('shop-secrets');
  const over = { K8S_SECRET_A: `hidden${'a'.repeat(1024 * 1024)}`, K8S_SECRET_B: 'bb' };
  let thrown: unknown;
  try {
    ciSecret(over, 'shop');
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: 'E_CI_SECRET_TOO_LARGE', exitCode: 2 });
  const text = `${(thrown as Error).message} ${(thrown as { fix: string }).fix}`;
  expect(text).toContain('1048576');
  expect(text).toContain('K8S_SECRET_A, 1048582 bytes');
  expect(text).not.toContain('hidden');
});
