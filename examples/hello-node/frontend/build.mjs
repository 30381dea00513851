// Builds the static frontend into frontend/dist: assets get content-hashed names
// (app.3f2a9c1e.js) and index.html is rewritten to reference them, so a publish can cache
// assets forever and switch versions by replacing index.html alone.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');
await rm(dist, { recursive: true, force: true });
await mkdir(path.join(dist, 'assets'), { recursive: true });

let html = await readFile(path.join(src, 'index.html'), 'utf8');
for (const name of (await readdir(src)).filter((n) => n !== 'index.html').sort()) {
  const body = await readFile(path.join(src, name));
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 8);
  const ext = path.extname(name);
  const hashed = `assets/${path.basename(name, ext)}.${hash}${ext}`;
  await writeFile(path.join(dist, hashed), body);
  html = html.replaceAll(`"${name}"`, `"${hashed}"`);
}
await writeFile(path.join(dist, 'index.html'), html);
console.log(`frontend built into ${path.relative(process.cwd(), dist) || dist}`);
