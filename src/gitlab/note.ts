// The one merge request note Gantry owns: rendered from the preview's state, found again by a
// hidden marker on its first line, created once and then edited in place.
import type { Ctx } from '../context.js';
import { gitlabCall, gitlabStatus, type GitlabClient } from './client.js';

/** First line of every Gantry note. HTML comments are not shown by GitLab's markdown. */
export const MR_NOTE_MARKER = '<!-- gantry:review-app -->';

export type MrNoteStatus = 'deploying' | 'deployed' | 'failed' | 'stopped';
export const MR_NOTE_STATUSES: readonly MrNoteStatus[] = ['deploying', 'deployed', 'failed', 'stopped'];

export interface Diagnosis {
  code: string;
  message: string;
  /** Already masked by the caller (the tracker's evidence lines). */
  evidence: string[];
}

export interface MrNoteInput {
  status: MrNoteStatus;
  environment: string;
  url?: string | undefined;
  commit: string;
  pipelineUrl: string;
  image?: string | undefined;
  diagnosis?: Diagnosis | undefined;
}

const HEADLINE: Record<MrNoteStatus, string> = {
  deploying: ':hourglass_flowing_sand: Review app is deploying',
  deployed: ':white_check_mark: Review app is ready',
  failed: ':x: Review app deploy failed',
  stopped: ':stop_button: Review app stopped',
};

/** Text as HTML character data: GitLab renders raw HTML in notes, so a `<` must not open a tag. */
function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A markdown code span that holds any text: a fence longer than its longest backtick run. */
function code(text: string): string {
  const one = text.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...(one.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = one.startsWith('`') || one.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${one}${pad}${fence}`;
}

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|');
}

function link(label: string, url: string): string {
  // Only http(s) links are linked; anything else is shown as text.
  if (!/^https?:\/\/[^\s<>()]+$/.test(url)) return code(url);
  return `[${label.replace(/[[\]\\]/g, '\\$&')}](${url})`;
}

/** The note's markdown: pure and stable (no clock), so an unchanged state is not re-sent. */
export function renderMrNote(input: MrNoteInput): string {
  const lines = [MR_NOTE_MARKER, `### ${HEADLINE[input.status]}`, '', '| | |', '|---|---|'];
  lines.push(`| Environment | ${cell(code(input.environment))} |`);
  lines.push(`| Status | **${input.status}** |`);
  if (input.url) lines.push(`| Preview | ${cell(input.status === 'stopped' ? `~~${input.url}~~` : link(input.url, input.url))} |`);
  if (input.commit) lines.push(`| Commit | ${cell(code(input.commit.slice(0, 8)))} |`);
  if (input.image) {
    const at = input.image.indexOf('@sha256:');
    const digest = at >= 0 ? input.image.slice(at + 1) : undefined;
    lines.push(`| Image | ${cell(code(input.image))} |`);
    if (digest) lines.push(`| Digest | ${cell(code(digest))} |`);
  }
  if (input.pipelineUrl) {
    const id = /\/pipelines\/(\d+)/.exec(input.pipelineUrl)?.[1];
    lines.push(`| Pipeline | ${cell(link(id ? `#${id}` : input.pipelineUrl, input.pipelineUrl))} |`);
  }
  if (input.diagnosis) {
    const d = input.diagnosis;
    const body = d.evidence.join('\n');
    const longest = Math.max(2, ...(body.match(/`{3,}/g) ?? []).map((r) => r.length));
    const fence = '`'.repeat(longest + 1);
    lines.push('', `<details><summary>Diagnosis: <code>${html(d.code)}</code> ${html(d.message.split('\n')[0] ?? '')}</summary>`, '', html(d.message), '');
    if (d.evidence.length > 0) lines.push(`${fence}text`, body, fence, '');
    lines.push('</details>');
  }
  lines.push('', '<sub>Posted by Gantry; this note is updated in place on every deploy.</sub>');
  return `${lines.join('\n')}\n`;
}

export interface NoteLike {
  id: number;
  body: string;
  system?: boolean;
}

/** A Gantry note starts with the marker; a quote of one (`> <!-- ...`) does not count. */
export function isGantryNote(note: NoteLike): boolean {
  return !note.system && typeof note.body === 'string' && note.body.trimStart().startsWith(MR_NOTE_MARKER);
}

/** The oldest Gantry note among `notes`, whatever their order. */
export function findGantryNote<T extends NoteLike>(notes: T[]): { note: T | undefined; duplicates: T[] } {
  const ours = notes.filter(isGantryNote).sort((a, b) => a.id - b.id);
  return { note: ours[0], duplicates: ours.slice(1) };
}

export interface UpsertMrNoteInput {
  projectId: string | number;
  mrIid: number;
  body: string;
}

export interface UpsertMrNoteResult {
  action: 'created' | 'updated' | 'unchanged' | 'would-create' | 'would-update';
  noteId: number | undefined;
}

/**
 * Exactly one Gantry note per MR: every page of the MR's notes is read (oldest first), the
 * note carrying the marker is edited in place, or one is created when there is none.
 */
export async function upsertMrNote(ctx: Ctx, gitlab: GitlabClient, input: UpsertMrNoteInput): Promise<UpsertMrNoteResult> {
  const { projectId, mrIid } = input;
  // Masked again here: whatever the caller passed, no registered secret reaches GitLab.
  const raw = ctx.logger.mask(input.body);
  const body = raw.trimStart().startsWith(MR_NOTE_MARKER) ? raw : `${MR_NOTE_MARKER}\n${raw}`;
  const where = `merge request !${mrIid} of project ${projectId}`;
  const notes = (await gitlabCall(ctx, gitlab, `list the notes of ${where}`, { idempotent: true }, () =>
    gitlab.notes.all(projectId, mrIid, { perPage: 100, sort: 'asc', orderBy: 'created_at' }),
  )) as unknown as NoteLike[];
  const { note, duplicates } = findGantryNote(notes);
  if (duplicates.length > 0) {
    ctx.logger.warn(
      `${where} has ${duplicates.length + 1} Gantry notes (${[note!, ...duplicates].map((n) => n.id).join(', ')}): updating the oldest, ${note!.id}`,
    );
  }
  if (note && note.body === body) {
    ctx.logger.info(`${where}: note ${note.id} is already up to date`);
    return { action: 'unchanged', noteId: note.id };
  }
  if (ctx.dryRun) {
    ctx.logger.info(note ? `would update note ${note.id} on ${where}` : `would create a note on ${where}`);
    return { action: note ? 'would-update' : 'would-create', noteId: note?.id };
  }
  // Only a note's author may edit it: after GANTRY_GITLAB_TOKEN is replaced by another bot user,
  // GitLab answers 403 for the old user's note. Then the next Gantry note is tried (the new bot's
  // own, from an earlier run), and when none is this token's, a new one is created.
  for (const candidate of note ? [note, ...duplicates] : []) {
    if (candidate.body === body) return { action: 'unchanged', noteId: candidate.id };
    try {
      // The same body PUT twice leaves the same note: safe to retry.
      await gitlabCall(ctx, gitlab, `update note ${candidate.id} on ${where}`, { idempotent: true }, () =>
        gitlab.notes.edit(projectId, mrIid, candidate.id, { body }),
      );
      ctx.logger.info(`updated note ${candidate.id} on ${where}`);
      return { action: 'updated', noteId: candidate.id };
    } catch (error) {
      if (gitlabStatus((error as { cause?: unknown }).cause) !== 403 || gitlab.tokenKind === 'job') throw error;
      ctx.logger.warn(`note ${candidate.id} on ${where} was written by another user (a replaced token?): GitLab does not let ${gitlab.tokenVariable} edit it`);
    }
  }
  const created = (await gitlabCall(ctx, gitlab, `create a note on ${where}`, { idempotent: false }, () =>
    gitlab.notes.create(projectId, mrIid, body),
  )) as unknown as NoteLike;
  ctx.logger.info(`created note ${created.id} on ${where}`);
  return { action: 'created', noteId: created.id };
}
