// Gantry's merge request note and MR state through the real @gitbeaker/rest client, against the
// GitLab API test server: in-process through src/gitlab, and as a user runs `gantry mr-note`.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCtx } from '../../src/context.js';
import {
  gitlabFromEnv,
  listOpenMrIids,
  MR_NOTE_MARKER,
  mrState,
  previewsToRemove,
  renderMrNote,
  stopEnvironment,
  upsertMrNote,
} from '../../src/gitlab/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startGitlabServer, type GitlabServer } from '../support/gitlab-server.js';
import { cliPath } from '../support/tmp-repo.js';

const PROJECT = 77;
const OTHER_PROJECT = 78;
const bot = { id: 501, username: 'project_77_bot', name: 'gantry-bot' };
const alice = { id: 2, username: 'alice', name: 'Alice' };
const botToken = 'glpat-GantryTestToken0123456789';
const jobToken = 'glcbt-64_JobTokenForTests0123456';
// A replacement project access token is a new bot user.
const newBot = { id: 502, username: 'project_77_bot_2', name: 'gantry-bot' };
const newBotToken = 'glpat-GantryReplacedToken987654';
let gl: GitlabServer;

beforeAll(async () => {
  gl = await startGitlabServer({
    projects: [
      { id: PROJECT, path: 'acme/shop' },
      { id: OTHER_PROJECT, path: 'acme/other' },
    ],
    privateTokens: [
      { token: botToken, user: bot },
      { token: newBotToken, user: newBot },
    ],
    jobTokens: [{ token: jobToken, projectId: PROJECT, user: alice }],
  });
});
afterAll(() => gl.close());

/** An MR with `others` human and system notes before Gantry ever writes. */
function mrWithNotes(iid: number, others: number, state: 'opened' | 'merged' | 'closed' = 'opened') {
  gl.addMergeRequest(PROJECT, { iid, state });
  for (let i = 0; i < others; i++) gl.addNote(PROJECT, iid, i % 5 === 0 ? 'changed the description' : `review comment ${i}`, alice, { system: i % 5 === 0 });
}
const gantryNotes = (iid: number) => gl.mergeRequest(PROJECT, iid).notes.filter((n) => n.body.startsWith(MR_NOTE_MARKER));

function inProcess(env: Record<string, string>) {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), gitlab: false, color: false });
  const ctx = createCtx({ logger, env: { CI_SERVER_URL: gl.url, ...env } });
  return { ctx, log: () => out };
}

const ciEnv = (extra: Record<string, string> = {}) => ({
  CI_SERVER_URL: gl.url,
  CI_PROJECT_ID: String(PROJECT),
  CI_COMMIT_SHA: '0123456789abcdef0123456789abcdef01234567',
  CI_PIPELINE_URL: 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
  GANTRY_GITLAB_RETRIES: '2',
  ...extra,
});

function mrNote(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CI|GITLAB|GANTRY)/.test(k)));
  const child = spawn(process.execPath, [cliPath, 'mr-note', ...args], { env: { ...base, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('upsertMrNote through @gitbeaker/rest', () => {
  test('the first call creates one note; the second edits that same note, found among 35 notes on two pages', async () => {
    mrWithNotes(1, 35);
    const { ctx } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx);
    const note = (status: 'deploying' | 'deployed') =>
      renderMrNote({ status, environment: 'review', commit: 'abcdef0123456789', pipelineUrl: '', url: 'https://shop-mr-1.example.com' });

    const first = await upsertMrNote(ctx, gitlab, { projectId: PROJECT, mrIid: 1, body: note('deploying') });
    expect(first.action).toBe('created');
    expect(gantryNotes(1)).toHaveLength(1);
    // 120 later notes: with 100 per page, the listing now spans two pages.
    for (let i = 0; i < 120; i++) gl.addNote(PROJECT, 1, `later comment ${i}`, alice);

    const mark = gl.requests.length;
    const second = await upsertMrNote(ctx, gitlab, { projectId: PROJECT, mrIid: 1, body: note('deployed') });
    expect(second).toEqual({ action: 'updated', noteId: first.noteId });
    const ours = gantryNotes(1);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.id).toBe(first.noteId);
    expect(ours[0]!.body).toContain('**deployed**');
    // gitbeaker followed the link header: both pages of notes were read, then one PUT.
    const calls = gl.requests.slice(mark).map((r) => `${r.method} ${r.query.page ?? '1'}`);
    expect(calls).toEqual(['GET 1', 'GET 2', 'PUT 1']);
    expect(gl.requests.slice(mark).every((r) => r.auth === 'private')).toBe(true);
  });

  test('a Gantry note that only the second page holds (after 105 others) is found, not duplicated', async () => {
    mrWithNotes(2, 105);
    const ours = gl.addNote(PROJECT, 2, `${MR_NOTE_MARKER}\nold state`, bot);
    for (let i = 0; i < 5; i++) gl.addNote(PROJECT, 2, `more ${i}`, alice);
    const { ctx } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx);
    // Read with GitLab's default page size, newest first, to prove the walk covers every page.
    const all = (await gitlab.notes.all(PROJECT, 2)) as unknown as { id: number }[];
    expect(all).toHaveLength(111);
    expect(all[0]!.id).toBeGreaterThan(all[110]!.id);
    const r = await upsertMrNote(ctx, gitlab, {
      projectId: PROJECT,
      mrIid: 2,
      body: renderMrNote({ status: 'stopped', environment: 'review', commit: 'abc', pipelineUrl: '' }),
    });
    expect(r).toEqual({ action: 'updated', noteId: ours.id });
    expect(gantryNotes(2)).toHaveLength(1);
    // Same body again: nothing is written.
    const mark = gl.requests.length;
    const again = await upsertMrNote(ctx, gitlab, {
      projectId: PROJECT,
      mrIid: 2,
      body: renderMrNote({ status: 'stopped', environment: 'review', commit: 'abc', pipelineUrl: '' }),
    });
    expect(again.action).toBe('unchanged');
    expect(gl.requests.slice(mark).every((q) => q.method === 'GET')).toBe(true);
  });

  test('a 500 on the listing is retried and logged; a failed create is not retried', async () => {
    mrWithNotes(3, 3);
    const { ctx, log } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx, ctx.env, { minTimeoutMs: 10 });
    gl.failNext(1, 500);
    const r = await upsertMrNote(ctx, gitlab, {
      projectId: PROJECT,
      mrIid: 3,
      body: renderMrNote({ status: 'deploying', environment: 'review', commit: 'abc', pipelineUrl: '' }),
    });
    expect(r.action).toBe('created');
    expect(log()).toMatch(/list the notes of merge request !3 of project 77: GitLab answered 500[^\n]*; retrying \(3 left\)/);
    expect(gantryNotes(3)).toHaveLength(1);

    // A reset on the POST: the note may or may not exist now, so Gantry reports instead of posting twice.
    mrWithNotes(4, 1);
    const mark = gl.requests.length;
    gl.resetNext(1, { method: 'POST' });
    await expect(upsertMrNote(ctx, gitlab, { projectId: PROJECT, mrIid: 4, body: 'x' })).rejects.toMatchObject({ code: 'E_GITLAB_UNREACHABLE' });
    gl.clearFaults();
    expect(gl.requests.slice(mark).map((q) => q.method)).toEqual(['GET', 'POST']);
  });

  test("a GitLab answering 502 for longer than gitbeaker's own retries (about 0.26 s) is still retried, and a 502 that lasts is E_GITLAB_API", async () => {
    mrWithNotes(6, 1);
    const { ctx, log } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx, ctx.env, { minTimeoutMs: 10 });
    const mark = gl.requests.length;
    gl.failNext(15, 502);
    expect(await mrState(ctx, gitlab, PROJECT, 6)).toBe('opened');
    expect(gl.requests.length - mark).toBe(16);
    expect(log()).toMatch(/read merge request !6 of project 77: .*retrying \(3 left\)/);
    gl.failNext(1000, 502);
    await expect(mrState(ctx, gitlab, PROJECT, 6)).rejects.toMatchObject({
      code: 'E_GITLAB_API',
      message: expect.stringContaining('kept answering 429 (rate limit) or 502'),
    });
    gl.clearFaults();
  }, 30_000);

  test('after the token is replaced by another bot user, the old note (which GitLab lets only its author edit) is left and the new bot keeps one note of its own', async () => {
    mrWithNotes(7, 2);
    // Every run's note differs (commit, pipeline): the old note is never already up to date.
    const note = (status: 'deploying' | 'deployed', commit = 'abc') => renderMrNote({ status, environment: 'review', commit, pipelineUrl: '' });
    const old = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    expect((await upsertMrNote(old.ctx, gitlabFromEnv(old.ctx), { projectId: PROJECT, mrIid: 7, body: note('deploying') })).action).toBe('created');
    const fresh = inProcess({ GANTRY_GITLAB_TOKEN: newBotToken });
    const client = gitlabFromEnv(fresh.ctx);
    const first = await upsertMrNote(fresh.ctx, client, { projectId: PROJECT, mrIid: 7, body: note('deployed') });
    expect(first.action).toBe('created');
    expect(fresh.log()).toContain('was written by another user (a replaced token?)');
    const second = await upsertMrNote(fresh.ctx, client, { projectId: PROJECT, mrIid: 7, body: note('deploying', 'def') });
    expect(second).toEqual({ action: 'updated', noteId: first.noteId });
    expect(gantryNotes(7).map((n) => n.author.id)).toEqual([bot.id, newBot.id]);
  });

  test('a connection reset on a read is retried', async () => {
    mrWithNotes(5, 2);
    const { ctx } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx, ctx.env, { minTimeoutMs: 10 });
    gl.resetNext(1);
    expect(await mrState(ctx, gitlab, PROJECT, 5)).toBe('opened');
    gl.clearFaults();
  });

  test('MR state is read; cleanup removes previews of merged, closed and deleted MRs and keeps open ones', async () => {
    gl.addMergeRequest(PROJECT, { iid: 10, state: 'merged' });
    gl.addMergeRequest(PROJECT, { iid: 11, state: 'closed' });
    gl.addMergeRequest(PROJECT, { iid: 12, state: 'opened' });
    gl.addMergeRequest(PROJECT, { iid: 13, state: 'locked' });
    const { ctx } = inProcess({ GANTRY_GITLAB_TOKEN: botToken });
    const gitlab = gitlabFromEnv(ctx);
    expect(await mrState(ctx, gitlab, PROJECT, 10)).toBe('merged');
    expect(await mrState(ctx, gitlab, 'acme/shop', 11)).toBe('closed');
    expect(await mrState(ctx, gitlab, PROJECT, 13)).toBe('opened');
    const open = await listOpenMrIids(ctx, gitlab, PROJECT);
    expect(open).toContain(12);
    expect(open).not.toContain(10);
    expect(await previewsToRemove(ctx, gitlab, PROJECT, [10, 11, 12, 13, 999])).toEqual([
      { iid: 10, state: 'merged', sourceBranch: 'feature-10' },
      { iid: 11, state: 'closed', sourceBranch: 'feature-11' },
      { iid: 999, state: 'deleted' },
    ]);
  });

  test("a job token may stop its own project's environment, not another project's, and cannot write notes", async () => {
    gl.addEnvironment(PROJECT, { name: 'review/feature-12' });
    gl.addEnvironment(OTHER_PROJECT, { name: 'review/feature-12' });
    const { ctx } = inProcess({ CI_JOB_TOKEN: jobToken });
    const gitlab = gitlabFromEnv(ctx);
    expect(await stopEnvironment(ctx, gitlab, PROJECT, 'review/feature-12')).toBe('stopped');
    expect(gl.environments(PROJECT)[0]!.state).toBe('stopped');
    expect(await stopEnvironment(ctx, gitlab, PROJECT, 'review/feature-12')).toBe('already-stopped');
    expect(await stopEnvironment(ctx, gitlab, PROJECT, 'review/nope')).toBe('missing');
    // Forced (for a preview already removed): GitLab gets force=true and skips the on_stop job.
    gl.addEnvironment(PROJECT, { name: 'review/feature-13' });
    expect(await stopEnvironment(ctx, gitlab, PROJECT, 'review/feature-13', { force: true })).toBe('stopped');
    expect(gl.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/stop')).map((q) => q.params?.force)).toEqual([undefined, 'true']);
    await expect(stopEnvironment(ctx, gitlab, OTHER_PROJECT, 'review/feature-12')).rejects.toMatchObject({ code: 'E_GITLAB_ACCESS' });
    await expect(upsertMrNote(ctx, gitlab, { projectId: PROJECT, mrIid: 12, body: 'x' })).rejects.toMatchObject({
      code: 'E_GITLAB_ACCESS',
      fix: expect.stringContaining('GANTRY_GITLAB_TOKEN'),
    });
  });
});

describe('gantry mr-note', () => {
  test('creates the note in an MR pipeline, then updates it with the failure diagnosis', async () => {
    mrWithNotes(20, 33);
    const env = ciEnv({ CI_MERGE_REQUEST_IID: '20', GANTRY_GITLAB_TOKEN: botToken });
    const first = await mrNote(['--status', 'deploying', '--url', 'https://shop-mr-20.preview.example.com'], env);
    expect(first.stderr).toContain('created note');
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout);
    expect(out).toMatchObject({ mr: 20, status: 'deploying', action: 'created' });

    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-mr-note-'));
    const file = path.join(dir, 'diagnosis.json');
    writeFileSync(
      file,
      JSON.stringify({
        code: 'E_ROLLOUT_CRASHLOOP',
        message: 'container web keeps crashing',
        evidence: ['Error: Cannot find module /app/server.js', `DATABASE_PASSWORD=${botToken}`],
      }),
    );
    const image = `registry.example.com/acme/shop@sha256:${'cd'.repeat(32)}`;
    const second = await mrNote(['--status', 'failed', '--env', 'review', '--image', image, '--diagnosis-file', file], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ action: 'updated', noteId: out.noteId });
    const ours = gantryNotes(20);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toContain('<details><summary>Diagnosis: <code>E_ROLLOUT_CRASHLOOP</code>');
    expect(ours[0]!.body).toContain('Error: Cannot find module /app/server.js');
    expect(ours[0]!.body).toContain(`sha256:${'cd'.repeat(32)}`);
    expect(ours[0]!.body).toContain('[#4242]');
    // A registered secret that slipped into the evidence never reaches GitLab.
    expect(ours[0]!.body).not.toContain(botToken);
    expect(ours[0]!.body).toContain('DATABASE_PASSWORD=[MASKED]');
  }, 60_000);

  test('outside a merge request pipeline it says so and exits 0 without calling GitLab', async () => {
    const mark = gl.requests.length;
    const r = await mrNote(['--status', 'deployed'], ciEnv({ GANTRY_GITLAB_TOKEN: botToken }));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('not a merge request pipeline');
    expect(r.stdout).toBe('');
    expect(gl.requests.length).toBe(mark);
  }, 60_000);

  test('a wrong token exits 1 with E_GITLAB_ACCESS and the token appears nowhere in the output', async () => {
    mrWithNotes(21, 0);
    const wrong = 'glpat-WrongTokenValue987654321';
    const r = await mrNote(['--status', 'deployed', '--mr', '21'], ciEnv({ GANTRY_GITLAB_TOKEN: wrong }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error E_GITLAB_ACCESS');
    expect(r.stderr).toContain('401');
    expect(r.stderr + r.stdout).not.toContain(wrong);
    expect(gantryNotes(21)).toHaveLength(0);
  }, 60_000);

  test('no token exits 2 with E_GITLAB_TOKEN naming both variables, before any request', async () => {
    const mark = gl.requests.length;
    const r = await mrNote(['--status', 'deployed', '--mr', '21'], ciEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error E_GITLAB_TOKEN');
    expect(r.stderr).toContain('GANTRY_GITLAB_TOKEN');
    expect(r.stderr).toContain('CI_JOB_TOKEN');
    expect(gl.requests.length).toBe(mark);
  }, 60_000);

  test('a 500 once is retried by the CLI and the note is still written once', async () => {
    mrWithNotes(22, 2);
    gl.failNext(1, 500);
    const r = await mrNote(['--status', 'deployed', '--mr', '22'], ciEnv({ GANTRY_GITLAB_TOKEN: botToken }));
    gl.clearFaults();
    expect(r.stderr).toMatch(/GitLab answered 500[^\n]*; retrying \(2 left\)/);
    expect(r.code).toBe(0);
    expect(gantryNotes(22)).toHaveLength(1);
  }, 60_000);

  test('a bad --status is a usage error (exit 2)', async () => {
    const r = await mrNote(['--status', 'great', '--mr', '22'], ciEnv({ GANTRY_GITLAB_TOKEN: botToken }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_USAGE');
  }, 60_000);
});
