// Any string a user puts in gantry.yaml must reach Kubernetes unchanged: the rendered YAML is
// read back by the yaml library (as YAML 1.2 and 1.1) and by Kubernetes' own parser.
import fc from 'fast-check';
import YAML from 'yaml';
import { renderManifests } from '../../../src/render/render.js';
import { buildView } from '../../../src/render/view.js';
import { quoteYaml, toYaml, yamlString } from '../../../src/render/yaml.js';
import { ciContext, digestImage, fullConfig } from '../../support/fixtures.js';
import { yamlWords } from '../../support/yaml-words.js';
import { parseAsKubernetes } from '../../support/k8s-yaml.js';

// Strings built to hit YAML's corners: reserved words, indicators, escapes, any Unicode.
const tricky = fc
  .oneof(
    fc.constantFrom(...yamlWords),
    fc.array(fc.constantFrom(...yamlWords), { minLength: 2, maxLength: 4 }).map((parts) => parts.join('')),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(':', '#', ' ', '-', '"', "'", '\\', '\n', '{', '}', '[', ']', 'a', '1', '.', 'e', '|', '>'), maxLength: 12 }),
  )
  .filter((s) => s.isWellFormed()); // lone surrogates cannot be encoded as UTF-8 at all

const PER_RUN = 12;
const RUNS = 900; // 900 x 12 = 10,800 strings

test(`${RUNS * PER_RUN} generated strings in env values, annotations and commands come back exactly`, async () => {
  const streams: string[] = [];
  const expected: unknown[] = [];
  let count = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(tricky, { minLength: PER_RUN, maxLength: PER_RUN }), async (strings) => {
      const config = fullConfig();
      const env = Object.fromEntries(strings.slice(0, 4).map((s, i) => [`V${i}`, s]));
      config.backend.env = env;
      config.backend.podAnnotations = Object.fromEntries(strings.slice(4, 8).map((s, i) => [`test.gantry.dev/a${i}`, s]));
      config.backend.command = strings.slice(8, 10);
      config.backend.args = strings.slice(10, 12);
      const view = buildView({ config, envName: 'staging', ci: ciContext(), image: digestImage });
      const [deploy] = await renderManifests(view, { userDir: '/nonexistent' });
      const docs12 = YAML.parseAllDocuments(deploy!.text).map((d) => d.toJS());
      const docs11 = YAML.parseAllDocuments(deploy!.text, { version: '1.1' }).map((d) => d.toJS());
      for (const docs of [docs12, docs11]) {
        const [configMap, deployment] = docs as any[];
        for (const [k, v] of Object.entries(env)) expect(configMap.data[k]).toBe(v);
        const template = deployment.spec.template;
        for (const [k, v] of Object.entries(config.backend.podAnnotations)) expect(template.metadata.annotations[k]).toBe(v);
        expect(template.spec.containers[0].command).toEqual(strings.slice(8, 10));
        expect(template.spec.containers[0].args).toEqual(strings.slice(10, 12));
      }
      streams.push(deploy!.text);
      expected.push(...docs12);
      count += strings.length;
    }),
    // A fixed seed keeps CI repeatable; FC_SEED=random explores new cases (fast-check prints
    // the seed of any failure, which FC_SEED=<seed> replays).
    { numRuns: RUNS, seed: process.env.FC_SEED === 'random' ? Date.now() % 2 ** 31 : Number(process.env.FC_SEED ?? 20261122) },
  );
  expect(count).toBeGreaterThanOrEqual(10_000);
  // The same streams, as Kubernetes reads them.
  const asKubernetes = parseAsKubernetes(streams.join('---\n'));
  expect(asKubernetes).toHaveLength(expected.length);
  for (const [i, doc] of asKubernetes.entries()) expect(doc).toEqual(expected[i]);
}, 240_000);

test('strings Kubernetes would misread are quoted; ordinary words and quantities stay plain', () => {
  for (const word of [
    'yes',
    'on',
    'Off',
    'y',
    'null',
    '~',
    '0x10',
    '0o10',
    '1_000',
    '1e3',
    'e1',
    'E+5',
    '2001-12-14',
    '1:20',
    '3000',
    '',
    'key:',
    ' x',
    '#x',
  ]) {
    expect(yamlString(word)).toBe(quoteYaml(word));
  }
  for (const word of [
    'hello',
    'app.kubernetes.io/name',
    '/healthz',
    '250m',
    '512Mi',
    '10Gi',
    'registry.example.com/acme/app@sha256:ab',
    'https://gitlab.example.com/x',
  ]) {
    expect(yamlString(word)).toBe(word);
  }
  expect(parseAsKubernetes(toYaml({ a: 'yes', b: '0o10', c: '1_000', d: '250m', e: '\u0085\u007f' }))).toEqual([
    { a: 'yes', b: '0o10', c: '1_000', d: '250m', e: '\u0085\u007f' },
  ]);
});
