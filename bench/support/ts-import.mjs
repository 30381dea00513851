// Benchmarks are plain node scripts; a few of them use the test support code (TypeScript), such
// as the test Prometheus. importTs transpiles a .ts file and the relative .ts files it imports
// (typescript's transpileModule: no type check, as jest's ts-jest does) into
// node_modules/.cache/gantry-bench/ under the same relative paths, so package imports resolve from
// the repository, and imports the result.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = path.join(root, 'node_modules', '.cache', 'gantry-bench');

function transpile(file, done) {
  if (done.has(file)) return;
  done.add(file);
  const source = readFileSync(file, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    fileName: file,
  });
  const target = path.join(out, path.relative(root, file)).replace(/\.ts$/, '.js');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, outputText);
  for (const m of source.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
    const dep = path.resolve(path.dirname(file), `${m[1]}.ts`);
    try {
      readFileSync(dep);
    } catch {
      continue; // a .js/.mjs file of its own: copied as it is
    }
    transpile(dep, done);
  }
  for (const m of source.matchAll(/from '(\.{1,2}\/[^']+\.mjs)'/g)) {
    const dep = path.resolve(path.dirname(file), m[1]);
    const copy = path.join(out, path.relative(root, dep));
    mkdirSync(path.dirname(copy), { recursive: true });
    writeFileSync(copy, readFileSync(dep));
  }
}

/** import() of a TypeScript file of this repository (path relative to the repository root). */
export async function importTs(relative) {
  const file = path.join(root, relative);
  transpile(file, new Set());
  return import(pathToFileURL(path.join(out, relative).replace(/\.ts$/, '.js')).href);
}
