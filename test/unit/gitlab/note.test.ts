// The merge request note: what a reviewer reads, and how Gantry finds its own note again.
import { findGantryNote, isGantryNote, MR_NOTE_MARKER, renderMrNote, type MrNoteInput } from '../../../src/gitlab/note.js';

const base: MrNoteInput = {
  status: 'deployed',
  environment: 'review',
  url: 'https://shop-mr-7.preview.example.com',
  commit: '0123456789abcdef0123456789abcdef01234567',
  pipelineUrl: 'https://gitlab.example.com/acme/shop/-/pipelines/4242',
  image: `crpi-abc.cn-hangzhou.personal.cr.aliyuncs.com/acme/shop@sha256:${'ab'.repeat(32)}`,
};

describe('renderMrNote', () => {
  test('a deployed preview shows the marker first, status, URL, short commit, image digest and pipeline', () => {
    const md = renderMrNote(base);
    expect(md.split('\n')[0]).toBe(MR_NOTE_MARKER);
    expect(md).toContain('Review app is ready');
    expect(md).toContain('| Status | **deployed** |');
    expect(md).toContain('[https://shop-mr-7.preview.example.com](https://shop-mr-7.preview.example.com)');
    expect(md).toContain('| Commit | `01234567` |');
    expect(md).toContain(`| Digest | \`sha256:${'ab'.repeat(32)}\` |`);
    expect(md).toContain('[#4242](https://gitlab.example.com/acme/shop/-/pipelines/4242)');
    expect(md).not.toContain('<details>');
  });

  test('rendering is stable: the same input gives byte-identical output', () => {
    expect(renderMrNote(base)).toBe(renderMrNote({ ...base }));
  });

  test('each status has its own headline; a stopped preview no longer links its URL', () => {
    const headlines = (['deploying', 'deployed', 'failed', 'stopped'] as const).map((status) => renderMrNote({ ...base, status }).split('\n')[1]);
    expect(new Set(headlines).size).toBe(4);
    const stopped = renderMrNote({ ...base, status: 'stopped' });
    expect(stopped).toContain('~~https://shop-mr-7.preview.example.com~~');
    expect(stopped).not.toContain('](https://shop-mr-7');
  });

  test('a failure carries the diagnosis in a collapsible block, evidence in a code block, HTML neutralised', () => {
    const md = renderMrNote({
      ...base,
      status: 'failed',
      diagnosis: {
        code: 'E_ROLLOUT_CRASHLOOP',
        message: 'container web keeps crashing <script>',
        evidence: ['web: Error: Cannot find module "/app/server.js"', 'exit code 1', 'a ``` fence in the log'],
      },
    });
    expect(md).toMatch(/<details><summary>Diagnosis: <code>E_ROLLOUT_CRASHLOOP<\/code> container web keeps crashing &lt;script&gt;<\/summary>/);
    expect(md).not.toContain('<script>');
    // The fence is longer than any backtick run in the evidence, so the log cannot close it.
    expect(md).toContain('````text\nweb: Error: Cannot find module "/app/server.js"\nexit code 1\na ``` fence in the log\n````\n');
    expect(md.indexOf('</details>')).toBeGreaterThan(md.indexOf('exit code 1'));
  });

  test('pipes and backticks in values do not break the table', () => {
    const md = renderMrNote({ ...base, environment: 'rev`iew|x', image: undefined, url: undefined });
    expect(md).toContain('| Environment | ``rev`iew\\|x`` |');
    expect(md).not.toContain('| Image |');
    expect(md).not.toContain('| Preview |');
  });

  test('a URL that is not http(s) is shown as text, never as a link', () => {
    const md = renderMrNote({ ...base, url: 'javascript:alert(1)' });
    expect(md).not.toContain('](javascript:');
    expect(md).toContain('`javascript:alert(1)`');
  });
});

describe('finding the Gantry note', () => {
  const note = (id: number, body: string, system = false) => ({ id, body, system });

  test('only a note that starts with the marker is ours: not a quote of it, not a system note', () => {
    expect(isGantryNote(note(1, `${MR_NOTE_MARKER}\n### Review app`))).toBe(true);
    expect(isGantryNote(note(2, `\n  ${MR_NOTE_MARKER}\nx`))).toBe(true);
    expect(isGantryNote(note(3, `> ${MR_NOTE_MARKER}\n> quoted`))).toBe(false);
    expect(isGantryNote(note(4, `see the note above ${MR_NOTE_MARKER}`))).toBe(false);
    expect(isGantryNote(note(5, MR_NOTE_MARKER, true))).toBe(false);
    expect(isGantryNote(note(6, '<!-- gantry:other -->'))).toBe(false);
  });

  test('the oldest of several Gantry notes wins, whatever order the notes come in', () => {
    const found = findGantryNote([note(30, `${MR_NOTE_MARKER} b`), note(5, 'hello'), note(12, `${MR_NOTE_MARKER} a`)]);
    expect(found.note?.id).toBe(12);
    expect(found.duplicates.map((n) => n.id)).toEqual([30]);
    expect(findGantryNote([note(1, 'lgtm')]).note).toBeUndefined();
  });
});
