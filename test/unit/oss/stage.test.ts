import { describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { scanDir } from '../../../src/oss/files.js';
import { addVersionToReferences, stageBundle } from '../../../src/oss/stage.js';

const assets = new Set(['bundle.js', 'css/style.css', 'img/logo one.png']);

describe('?v= on references to unhashed assets', () => {
  test('relative, root-relative and nested references get v=, with either quote', () => {
    const html = `<script src="bundle.js"></script><link rel="stylesheet" href='css/style.css'><img src="/img/logo%20one.png">`;
    const r = addVersionToReferences(html, 'index.html', assets, 'abc1234');
    expect(r.references).toBe(3);
    expect(r.html).toBe(
      `<script src="bundle.js?v=abc1234"></script><link rel="stylesheet" href='css/style.css?v=abc1234'><img src="/img/logo%20one.png?v=abc1234">`,
    );
  });

  test('a page in a subdirectory resolves ../ against its own directory', () => {
    const r = addVersionToReferences('<script src="../bundle.js"></script><a href="../css/style.css#x">', 'docs/index.html', assets, 's1');
    expect(r.html).toBe('<script src="../bundle.js?v=s1"></script><a href="../css/style.css?v=s1#x">');
  });

  test('an existing query keeps its parameters; an existing v= is left alone', () => {
    const r = addVersionToReferences('<script src="bundle.js?lang=en"></script><script src="bundle.js?v=1"></script>', 'index.html', assets, 's1');
    expect(r.html).toBe('<script src="bundle.js?lang=en&v=s1"></script><script src="bundle.js?v=1"></script>');
    expect(r.references).toBe(1);
  });

  test('external URLs, data:, fragments, unknown files and other pages are not touched', () => {
    const html =
      '<script src="https://cdn.example.com/bundle.js"></script><script src="//x/bundle.js"></script><img src="data:image/png;base64,AA"><a href="#top"><a href="about.html"><script src="missing.js"></script><a href="mailto:a@b">';
    const r = addVersionToReferences(html, 'index.html', assets, 's1');
    expect(r.references).toBe(0);
    expect(r.html).toBe(html);
  });
});

describe('stageBundle', () => {
  function bundle(files: Record<string, string>) {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-stage-'));
    for (const [name, text] of Object.entries(files)) {
      const full = path.join(dir, name);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, text);
    }
    return scanDir(dir);
  }
  const page = '<!doctype html><script src="bundle.js"></script><script src="app.3f2a9c1e.js"></script>';
  const js = 'console.log("hello");\n'.repeat(200);

  test('HTML referencing unhashed assets is rewritten; hashed references and other files stay as built', async () => {
    const files = await bundle({ 'index.html': page, 'bundle.js': js, 'app.3f2a9c1e.js': js });
    const staged = await stageBundle(files, { version: 'abc1234', compress: ['js', 'html'] });
    const index = staged.files.find((f) => f.key === 'index.html')!;
    expect(index.body!.toString()).toBe('<!doctype html><script src="bundle.js?v=abc1234"></script><script src="app.3f2a9c1e.js"></script>');
    expect(index.md5).toBe(createHash('md5').update(index.body!).digest('hex'));
    expect(index.size).toBe(index.body!.length);
    expect(staged.files.find((f) => f.key === 'bundle.js')).toBe(files.find((f) => f.key === 'bundle.js'));
    expect(staged.rewritten).toEqual([{ key: 'index.html', references: 1 }]);
  });

  test('without a version, or with only hashed assets, HTML is published as built', async () => {
    const files = await bundle({ 'index.html': page, 'bundle.js': js });
    expect((await stageBundle(files, { version: '', compress: [] })).files).toEqual(files);
    const hashedOnly = await bundle({ 'index.html': page, 'app.3f2a9c1e.js': js });
    expect((await stageBundle(hashedOnly, { version: 'abc', compress: [] })).files).toEqual(hashedOnly);
  });

  test.each(['gzip', 'br'] as const)(
    '%s: configured extensions are stored compressed, size and MD5 of the compressed bytes, tiny files as they are',
    async (encoding) => {
      const files = await bundle({ 'index.html': page, 'bundle.js': js, 'a.txt': 'x', 'logo.png': js });
      const staged = await stageBundle(files, { version: 'v1', encoding, compress: ['js', 'html', 'txt'] });
      const byKey = new Map(staged.files.map((f) => [f.key, f]));
      const unpack = encoding === 'gzip' ? gunzipSync : brotliDecompressSync;
      expect(byKey.get('bundle.js')!.encoding).toBe(encoding);
      expect(unpack(byKey.get('bundle.js')!.body!).toString()).toBe(js);
      expect(byKey.get('bundle.js')!.size).toBeLessThan(js.length / 10);
      expect(byKey.get('bundle.js')!.md5).toBe(createHash('md5').update(byKey.get('bundle.js')!.body!).digest('hex'));
      expect(unpack(byKey.get('index.html')!.body!).toString()).toContain('bundle.js?v=v1');
      expect(byKey.get('a.txt')!.encoding).toBeUndefined();
      expect(byKey.get('logo.png')!.encoding).toBeUndefined();
      expect(staged.compressed).toBe(2);
      // Deterministic: the same input stages to the same bytes, so a re-publish sends nothing.
      const again = await stageBundle(files, { version: 'v1', encoding, compress: ['js', 'html', 'txt'] });
      expect(again.files.map((f) => f.md5)).toEqual(staged.files.map((f) => f.md5));
    },
  );
});
