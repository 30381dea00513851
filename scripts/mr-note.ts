// gantry mr-note: create or update the one Gantry note on the pipeline's merge request with the
// preview's status, URL, commit, image and (on failure) the diagnosis. Outside a merge request
// pipeline there is nothing to annotate, which is not an error.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ciContextFromEnv } from '../src/ci/context.js';
import type { Ctx } from '../src/context.js';
import { GantryError } from '../src/errors.js';
import { MR_NOTE_STATUSES, type Diagnosis, type MrNoteStatus } from '../src/gitlab/note.js';
import { parseStepArgs } from '../src/args.js';

export const usage = 'gantry mr-note --status <deploying|deployed|failed|stopped> [--env <name>] [--url <u>] [--image <ref>] [--diagnosis-file <json>] [--mr <iid>]';

export async function mrNote(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs('mr-note', argv, {
    status: { type: 'string', short: 's' },
    env: { type: 'string', short: 'e' },
    url: { type: 'string' },
    image: { type: 'string' },
    'diagnosis-file': { type: 'string' },
    mr: { type: 'string' },
  }, usage);
  if (values.help) {
    ctx.logger.info(`usage: ${usage}`);
    return 0;
  }
  // Everything about the input is checked before GitLab is asked anything.
  const status = values.status as MrNoteStatus | undefined;
  if (!status || !MR_NOTE_STATUSES.includes(status)) {
    throw new GantryError('E_USAGE', `gantry mr-note: --status ${status ?? '(missing)'}: one of ${MR_NOTE_STATUSES.join(', ')}`, { fix: `usage: ${usage}` });
  }
  if (values.mr !== undefined && !/^[1-9][0-9]*$/.test(values.mr)) {
    throw new GantryError('E_USAGE', `--mr ${values.mr}: a merge request iid is a positive whole number`, { fix: 'pass the MR number, e.g. --mr 42' });
  }
  const diagnosis = values['diagnosis-file'] ? await readDiagnosis(path.resolve(ctx.cwd, values['diagnosis-file'])) : undefined;

  const result = await postMrNote(ctx, { status, environment: values.env, url: values.url, image: values.image, diagnosis, mr: values.mr });
  if (!result) {
    ctx.logger.info('gantry mr-note: not a merge request pipeline (no CI_MERGE_REQUEST_IID and no --mr): no note to write');
    return 0;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

export interface MrNoteInput {
  status: MrNoteStatus;
  environment?: string | undefined;
  url?: string | undefined;
  image?: string | undefined;
  diagnosis?: Diagnosis | undefined;
  mr?: string | undefined;
}

/** Creates or updates the merge request's Gantry note; null outside a merge request. Used by deploy and stop too. */
export async function postMrNote(ctx: Ctx, input: MrNoteInput) {
  const env = ctx.env;
  const iid = input.mr ?? env.CI_MERGE_REQUEST_IID;
  if (!iid) return null;
  if (!/^[1-9][0-9]*$/.test(iid)) {
    throw new GantryError('E_INPUT', `CI_MERGE_REQUEST_IID=${iid} is not a merge request iid`, { fix: 'unset it, or pass --mr <iid>' });
  }
  const projectId = env.CI_MERGE_REQUEST_PROJECT_ID || env.CI_PROJECT_ID;
  if (!projectId) {
    throw new GantryError('E_INPUT', 'no project: CI_PROJECT_ID (or CI_MERGE_REQUEST_PROJECT_ID) is not set', { fix: 'GitLab CI sets it; outside CI export CI_PROJECT_ID=<numeric id or group/project path>' });
  }
  const ci = ciContextFromEnv(env);
  const { gitlabFromEnv, renderMrNote, upsertMrNote } = await import('../src/gitlab/index.js');
  const gitlab = gitlabFromEnv(ctx, env);
  const body = renderMrNote({
    status: input.status,
    environment: input.environment ?? env.CI_ENVIRONMENT_NAME ?? 'review',
    url: input.url ?? (env.GANTRY_ENVIRONMENT_URL || env.CI_ENVIRONMENT_URL || undefined),
    commit: ci.sha,
    pipelineUrl: ci.pipelineUrl,
    image: input.image ?? (env.GANTRY_IMAGE || undefined),
    diagnosis: input.diagnosis,
  });
  const result = await upsertMrNote(ctx, gitlab, { projectId, mrIid: Number(iid), body });
  return { mr: Number(iid), projectId, status: input.status, ...result };
}

/**
 * For deploy and stop: the note is a report, so a failure to write it is a warning, never the
 * step's failure. Written only with GANTRY_GITLAB_TOKEN: a job token may not write notes.
 */
export async function reportToMr(ctx: Ctx, input: MrNoteInput): Promise<void> {
  if (!(input.mr ?? ctx.env.CI_MERGE_REQUEST_IID)) return;
  if (!ctx.env.GANTRY_GITLAB_TOKEN) {
    ctx.logger.info('no GANTRY_GITLAB_TOKEN: the merge request gets no Gantry note (a job token may not write notes)');
    return;
  }
  try {
    const r = await postMrNote(ctx, input);
    if (r) ctx.logger.info(`merge request !${r.mr}: Gantry note ${r.action} (${input.status})`);
  } catch (error) {
    ctx.logger.warn(`could not write the merge request note: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** `{ code, message, evidence: string[] }` as the tracker reports it (evidence already masked). */
async function readDiagnosis(file: string): Promise<Diagnosis> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new GantryError('E_INPUT', `--diagnosis-file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { fix: 'pass the JSON file the failed deploy wrote' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GantryError('E_INPUT', `--diagnosis-file ${file} is not JSON: ${(error as Error).message}`, { fix: 'expected {"code": "...", "message": "...", "evidence": ["..."]}' });
  }
  const d = value as Partial<Diagnosis>;
  const evidence = d?.evidence ?? [];
  if (typeof d?.code !== 'string' || typeof d.message !== 'string' || !Array.isArray(evidence) || !evidence.every((e) => typeof e === 'string')) {
    throw new GantryError('E_INPUT', `--diagnosis-file ${file}: expected {"code": string, "message": string, "evidence": string[]}`, { fix: 'pass the JSON file the failed deploy wrote' });
  }
  return { code: d.code, message: d.message, evidence };
}
