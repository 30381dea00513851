import { catalogue, formatError, GantryError, gantryError, wrapError, type ErrorCode } from '../../src/errors.js';

const codes = Object.keys(catalogue) as ErrorCode[];

describe('the error catalogue', () => {
  test.each(codes)('%s has an exit code, a title, and message and fix functions of its details', (code) => {
    const entry = catalogue[code];
    expect([1, 2]).toContain(entry.exitCode);
    expect(entry.title).toMatch(/\S/);
    expect(typeof entry.message).toBe('function');
    expect(typeof entry.fix).toBe('function');
    if (entry.lines !== undefined) expect(typeof entry.lines).toBe('function');
  });

  test('codes are searchable: upper-case E_ names, titles one line and distinct', () => {
    for (const code of codes) expect(code).toMatch(/^E_[A-Z0-9_]+$/);
    const titles = codes.map((code) => catalogue[code].title);
    for (const title of titles) expect(title).not.toContain('\n');
    expect(new Set(titles).size).toBe(titles.length);
  });

  test('bad input is exit 2, nothing having been done; an outside action that failed is exit 1', () => {
    const input: ErrorCode[] = [
      'E_USAGE',
      'E_ENV_UNKNOWN',
      'E_MR_MISSING',
      'E_MR_IID',
      'E_PROJECT_MISSING',
      'E_APP_MISSING',
      'E_IMAGE_REF',
      'E_IMAGE_MISSING',
      'E_COMMIT_MISSING',
      'E_GITLAB_URL_MISSING',
      'E_GITLAB_URL',
      'E_OSS_CREDENTIALS_MISSING',
      'E_CDN_KEY_PARTIAL',
      'E_REGISTRY_CREDENTIALS_PARTIAL',
      'E_BUCKET_REGION_MISSING',
      'E_LEASE_SECONDS',
      'E_SCALE_REPLICAS',
      'E_SCALE_AUTOSCALED',
      'E_ROLLBACK_NO_PREVIOUS',
      'E_NAMESPACE_NOT_GANTRY',
      'E_DIAGNOSIS_FILE',
      'E_INIT_PACKAGE_JSON',
      'E_INIT_DIR_NOT_WRITABLE',
      'E_INIT_PATH_BLOCKED',
      'E_CONFIG_INVALID',
      'E_TEMPLATE',
      'E_BUILD_NO_SOURCE',
      'E_GITLAB_TOKEN',
    ];
    for (const code of input) expect(gantryErrorExit(code)).toBe(2);
    const outside: ErrorCode[] = ['E_DOCKER_UNAVAILABLE', 'E_PUSH_DENIED', 'E_OSS_ACCESS', 'E_CDN_REFRESH', 'E_GITLAB_API', 'E_ROLLOUT_TIMEOUT', 'E_INTERNAL'];
    for (const code of outside) expect(gantryErrorExit(code)).toBe(1);
  });
});

function gantryErrorExit(code: ErrorCode): 1 | 2 {
  return new GantryError(code, 'x').exitCode;
}

describe('gantryError says the message, lines and fix from the details', () => {
  test('an unknown environment names the ones there are, and offers to add it where that helps', () => {
    const e = gantryError('E_ENV_UNKNOWN', { envName: 'qa', known: ['staging', 'production'], offerToAdd: true });
    expect(e).toMatchObject({
      code: 'E_ENV_UNKNOWN',
      exitCode: 2,
      message: '--env qa: no such environment in gantry.yaml',
      fix: 'use one of staging, production, or add environments.qa',
    });
    expect(gantryError('E_ENV_UNKNOWN', { envName: 'qa', known: ['staging'], offerToAdd: false }).fix).toBe('use one of staging');
  });

  test('no merge request: the review environment and gantry stop say what needs it', () => {
    expect(gantryError('E_MR_MISSING', { needs: 'review', saysWhereCiSetsIt: true })).toMatchObject({
      message: 'the review environment needs a merge request',
      fix: 'run it in a merge request pipeline (CI_MERGE_REQUEST_IID is set there), or pass --mr <iid>',
    });
    expect(gantryError('E_MR_MISSING', { needs: 'stop', saysWhereCiSetsIt: false })).toMatchObject({
      message: 'gantry stop needs the merge request',
      fix: 'run it in a merge request pipeline, or pass --mr <iid>',
    });
  });

  test('a GitLab URL that is not one names the variable and shows a good value', () => {
    expect(gantryError('E_GITLAB_URL', { variable: 'CI_API_V4_URL', value: 'nope', notHttp: false })).toMatchObject({
      message: 'CI_API_V4_URL=nope is not a URL',
      fix: 'e.g. CI_API_V4_URL=https://gitlab.example.com/api/v4',
    });
    expect(gantryError('E_GITLAB_URL', { variable: 'CI_SERVER_URL', value: 'ftp://x', notHttp: true })).toMatchObject({
      message: 'CI_SERVER_URL=ftp://x: only http(s) URLs are GitLab instances',
      fix: 'e.g. CI_SERVER_URL=https://gitlab.example.com',
    });
  });

  test('the diagnosis file: unreadable, not JSON, or the wrong shape', () => {
    expect(gantryError('E_DIAGNOSIS_FILE', { file: 'd.json', unreadable: 'ENOENT' }).message).toBe('--diagnosis-file d.json: ENOENT');
    expect(gantryError('E_DIAGNOSIS_FILE', { file: 'd.json', notJson: 'Unexpected token' })).toMatchObject({
      message: '--diagnosis-file d.json is not JSON: Unexpected token',
      fix: 'expected {"code": "...", "message": "...", "evidence": ["..."]}',
    });
    expect(gantryError('E_DIAGNOSIS_FILE', { file: 'd.json', wrongShape: true })).toMatchObject({
      message: '--diagnosis-file d.json: expected {"code": string, "message": string, "evidence": string[]}',
      fix: 'pass the JSON file the failed deploy wrote',
    });
  });

  test('the texts the scripts write today, said by the catalogue word for word', () => {
    const said = (e: GantryError) => [e.message, e.fix];
    expect(said(gantryError('E_APP_MISSING', { command: 'stop' }))).toEqual([
      'gantry stop does not know the app',
      'pass --app (the app of gantry.yaml; the review component input "app"), or set GANTRY_APP',
    ]);
    expect(said(gantryError('E_APP_MISSING', { command: 'cleanup-previews' }))).toEqual([
      'gantry cleanup-previews does not know the app',
      'pass --app (the app of gantry.yaml), or set GANTRY_APP',
    ]);
    expect(said(gantryError('E_PROJECT_MISSING', { mergeRequestVariable: false }))).toEqual([
      'no project: CI_PROJECT_ID is not set',
      'GitLab CI sets it; outside CI export CI_PROJECT_ID=<numeric id or group/project path>',
    ]);
    expect(gantryError('E_PROJECT_MISSING', { mergeRequestVariable: true }).message).toBe(
      'no project: CI_PROJECT_ID (or CI_MERGE_REQUEST_PROJECT_ID) is not set',
    );
    expect(said(gantryError('E_COMMIT_MISSING', { canPassImage: false }))).toEqual([
      'no commit to tag the image with',
      'run inside a git repository or a CI job',
    ]);
    expect(said(gantryError('E_LEASE_SECONDS', { value: '3' }))).toEqual([
      'GANTRY_DEPLOY_LEASE_SECONDS=3: whole seconds from 5 to 600',
      'unset it for the default of 60',
    ]);
    expect(said(gantryError('E_SCALE_AUTOSCALED', { envName: 'production', min: 2, max: 5 }))).toEqual([
      'production is autoscaled (2-5 replicas): the HPA sets the replicas',
      'change autoscale.min / autoscale.max in gantry.yaml and deploy',
    ]);
    expect(said(gantryError('E_ROLLBACK_NO_PREVIOUS', { deployment: 'hello', namespace: 'hello-staging', current: 1 }))).toEqual([
      'hello in hello-staging has no revision before 1',
      'gantry history --env ... lists the revisions that are kept',
    ]);
    expect(said(gantryError('E_NAMESPACE_NOT_GANTRY', { namespace: 'x', label: 'app.kubernetes.io/managed-by' }))).toEqual([
      'namespace x was not created by Gantry (no label app.kubernetes.io/managed-by=gantry): not deleting it',
      'check --app / --namespace (the review component inputs app and namespace) against gantry.yaml',
    ]);
    expect(said(gantryError('E_INIT_PATH_BLOCKED', { blocked: ['a', 'b'] }))).toEqual([
      'cannot write a, b: a directory is in the way; nothing was written',
      'move a, b aside and run gantry init again',
    ]);
    expect(said(gantryError('E_BUCKET_REGION_MISSING', { bucket: 'b' }))).toEqual([
      '--bucket b needs --region',
      'pass --region (frontend.region of gantry.yaml, e.g. oss-cn-hangzhou)',
    ]);
  });

  test('lines come from the details: docker output under a daemon that does not answer', () => {
    const e = gantryError('E_DOCKER_UNAVAILABLE', { dockerHost: 'tcp://docker:2375', output: ['Cannot connect'] });
    expect(e.message).toBe('no Docker daemon answers at DOCKER_HOST=tcp://docker:2375');
    expect(e.details).toEqual(['Cannot connect']);
    expect(formatError(e)).toBe(
      'error E_DOCKER_UNAVAILABLE: no Docker daemon answers at DOCKER_HOST=tcp://docker:2375\n  Cannot connect\nfix: mount the runner\'s socket (/var/run/docker.sock) or add a docker:dind service and set DOCKER_HOST=tcp://docker:2375 (see README "Building images")',
    );
  });

  test('a failed CDN refresh says the files are published and which URLs to refresh by hand', () => {
    const e = gantryError('E_CDN_REFRESH', {
      problem: 'quota',
      published: 'oss://b/site/',
      urls: ['https://a/x'],
      code: 'QuotaExceeded',
      answer: 'QuotaExceeded (HTTP 400): no',
    });
    expect(e.message).toBe(
      'The files ARE published to oss://b/site/; only the CDN cache refresh failed, so visitors may get the old HTML until the CDN cache expires: the refresh quota is used up (QuotaExceeded)',
    );
    expect(e.fix).toBe(
      'wait for the quota (10,000 URLs a day by default) or ask Aliyun for more; then refresh https://a/x in the CDN console (a re-run uploads nothing new, so it refreshes nothing)',
    );
    expect(e.details).toEqual(['QuotaExceeded (HTTP 400): no']);
  });

  test('a code without a fix leaves fix unset; the cause is kept', () => {
    const cause = new Error('boom');
    const e = gantryError('E_PUSH_DENIED', { image: 'r/a:1', failed: true, output: ['denied'] }, { cause });
    expect(e.fix).toBeUndefined();
    expect(e.cause).toBe(cause);
    expect(formatError(e)).toBe('error E_PUSH_DENIED: docker push r/a:1 failed\n  denied');
  });

  test('the constructor form still works for sites that write their own text', () => {
    const e = new GantryError('E_KUBE_API', 'PATCH refused', { details: ['a'], fix: 'b' });
    expect(e).toMatchObject({ code: 'E_KUBE_API', exitCode: 1, message: 'PATCH refused', details: ['a'], fix: 'b' });
    expect(gantryError('E_KUBE_API', { message: 'PATCH refused', fix: 'b', lines: ['a'] })).toMatchObject({
      message: 'PATCH refused',
      details: ['a'],
      fix: 'b',
    });
  });

  test('wrapError keeps Gantry errors and says what was being done for the rest', () => {
    const own = gantryError('E_IMAGE_MISSING', {});
    expect(wrapError('gantry deploy', own)).toBe(own);
    expect(wrapError('gantry deploy', new Error('boom'))).toMatchObject({ code: 'E_INTERNAL', exitCode: 1, message: 'gantry deploy: boom', fix: undefined });
  });
});
