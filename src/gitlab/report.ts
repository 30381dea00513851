// The merge request's Gantry note as a report of a step: create or update it (gantry mr-note),
// or, for deploy and stop, write it when it can and warn when it cannot.
import { readFile } from 'node:fs/promises';
import { ciContextFromEnv } from '../ci/context.js';
import { ciVariables } from '../ci/variables.js';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import type { Diagnosis, MrNoteStatus } from './note.js';

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
  const { predefined, gantry } = ciVariables(env);
  const iid = input.mr ?? predefined.mergeRequestIid;
  if (!iid) return null;
  if (!/^[1-9][0-9]*$/.test(iid)) {
    throw gantryError('E_MR_IID', { iid });
  }
  const projectId = predefined.mergeRequestProjectId || predefined.projectId;
  if (!projectId) {
    throw gantryError('E_PROJECT_MISSING', { mergeRequestVariable: true });
  }
  const ci = ciContextFromEnv(env);
  const { gitlabFromEnv, renderMrNote, upsertMrNote } = await import('./index.js');
  const gitlab = gitlabFromEnv(ctx, env);
  const body = renderMrNote({
    status: input.status,
    environment: input.environment ?? predefined.environmentName ?? 'review',
    url: input.url ?? (gantry.environmentUrl || predefined.environmentUrl || undefined),
    commit: ci.sha,
    pipelineUrl: ci.pipelineUrl,
    image: input.image ?? (gantry.image || undefined),
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
  const { predefined, gantry } = ciVariables(ctx.env);
  if (!(input.mr ?? predefined.mergeRequestIid)) return;
  if (!gantry.gitlabToken) {
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

export /** `{ code, message, evidence: string[] }` as the tracker reports it (evidence already masked). */
async function readDiagnosis(file: string): Promise<Diagnosis> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw gantryError('E_DIAGNOSIS_FILE', { file, unreadable: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw gantryError('E_DIAGNOSIS_FILE', { file, notJson: (error as Error).message });
  }
  const d = value as Partial<Diagnosis>;
  const evidence = d?.evidence ?? [];
  if (typeof d?.code !== 'string' || typeof d.message !== 'string' || !Array.isArray(evidence) || !evidence.every((e) => typeof e === 'string')) {
    throw gantryError('E_DIAGNOSIS_FILE', { file, wrongShape: true });
  }
  return { code: d.code, message: d.message, evidence };
}
