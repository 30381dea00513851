// gantry mr-note: create or update the one Gantry note on the pipeline's merge request with the
// preview's status, URL, commit, image and (on failure) the diagnosis. Outside a merge request
// pipeline there is nothing to annotate, which is not an error.
import path from 'node:path';
import type { Ctx } from '../src/context.js';
import { gantryError } from '../src/errors.js';
import { MR_NOTE_STATUSES, type MrNoteStatus } from '../src/gitlab/note.js';
import { postMrNote, readDiagnosis } from '../src/gitlab/report.js';
import { checkMrFlag, helpAsked, parseStepArgs } from '../src/args.js';

export const usage =
  'gantry mr-note --status <deploying|deployed|failed|stopped> [--env <name>] [--url <u>] [--image <ref>] [--diagnosis-file <json>] [--mr <iid>]';

export async function mrNote(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parseStepArgs(
    'mr-note',
    argv,
    {
      status: { type: 'string', short: 's' },
      env: { type: 'string', short: 'e' },
      url: { type: 'string' },
      image: { type: 'string' },
      'diagnosis-file': { type: 'string' },
      mr: { type: 'string' },
    },
    usage,
  );
  if (helpAsked(ctx, values, usage)) return 0;
  // Everything about the input is checked before GitLab is asked anything.
  const status = values.status as MrNoteStatus | undefined;
  if (!status || !MR_NOTE_STATUSES.includes(status)) {
    throw gantryError('E_USAGE', { command: 'mr-note', usage, flag: 'status', value: status, allowed: MR_NOTE_STATUSES });
  }
  checkMrFlag(values.mr);
  const diagnosis = values['diagnosis-file'] ? await readDiagnosis(path.resolve(ctx.cwd, values['diagnosis-file'])) : undefined;

  const result = await postMrNote(ctx, { status, environment: values.env, url: values.url, image: values.image, diagnosis, mr: values.mr });
  if (!result) {
    ctx.logger.info('gantry mr-note: not a merge request pipeline (no CI_MERGE_REQUEST_IID and no --mr): no note to write');
    return 0;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}
