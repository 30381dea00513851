// Renders deploy.yaml and svc.yaml: Handlebars templates (Gantry's defaults in deploy/, a
// user's own deploy/*.hbs override them) -> parsed -> checked -> canonical, stable YAML.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { gantryError } from '../errors.js';
import { INSTANCE_LABEL, MANAGED_BY_LABEL, type K8sObject } from '../kube/objects.js';
import {
  annotationBytes,
  byteSize,
  dataBytes,
  dns1123LabelProblem,
  dns1123SubdomainProblem,
  labelValueProblem,
  MAX_ANNOTATIONS_BYTES,
  MAX_DATA_BYTES,
  qualifiedNameProblem,
} from '../names/limits.js';
import { packageRoot } from '../paths.js';
import type { View } from './view.js';
import { implicitTypePatterns, parseYamlStream, quoteYaml, toYaml, yamlString } from './yaml.js';

export const manifestFiles = ['deploy.yaml', 'svc.yaml'] as const;
/** #14: services.yaml, rendered only for an environment that runs service instances. */
export const SERVICES_FILE = 'services.yaml' as const;
export type ManifestFile = (typeof manifestFiles)[number] | typeof SERVICES_FILE;

/** The files an environment renders: services.yaml (applied first) only when it runs instances. */
export function manifestFilesFor(view: View): ManifestFile[] {
  return view.services.length > 0 ? [SERVICES_FILE, ...manifestFiles] : [...manifestFiles];
}

export type { K8sObject };

export interface RenderedManifest {
  file: ManifestFile;
  /** Where the template came from (Gantry's default or the user's override). */
  template: string;
  objects: K8sObject[];
  text: string;
}

export interface RenderOptions {
  /** The user's repository: its deploy/*.hbs and deploy/partials/*.hbs override the defaults. */
  userDir: string;
  /** Gantry's defaults (tests point this elsewhere). */
  defaultsDir?: string;
}

export async function renderManifests(view: View, options: RenderOptions): Promise<RenderedManifest[]> {
  const defaultsDir = options.defaultsDir ?? path.join(packageRoot(), 'deploy');
  const userDeployDir = path.join(options.userDir, 'deploy');
  const implicit = implicitTypePatterns();
  const hbs = createHandlebars(implicit);
  for (const dir of [path.join(defaultsDir, 'partials'), path.join(userDeployDir, 'partials')]) {
    for (const [name, source] of await readTemplates(dir)) hbs.registerPartial(name, source);
  }
  const out: RenderedManifest[] = [];
  for (const file of manifestFilesFor(view)) {
    const userTemplate = path.join(userDeployDir, `${file}.hbs`);
    const template = existsSync(userTemplate) ? userTemplate : path.join(defaultsDir, `${file}.hbs`);
    const source = await readFile(template, 'utf8');
    out.push(renderOne(hbs, file, template, source, view, implicit));
  }
  return out;
}

function renderOne(hbs: typeof Handlebars, file: ManifestFile, template: string, source: string, view: View, implicit: RegExp[]): RenderedManifest {
  let text: string;
  try {
    text = hbs.compile(source, { strict: true, noEscape: true })(view);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? '';
    const line = /^line (\d+):/.exec(message);
    throw gantryError(
      'E_TEMPLATE',
      {
        problem: 'render',
        template,
        reason: message,
        line: line ? { number: line[1]!, text: source.split('\n')[Number(line[1]) - 1]?.trim() ?? '' } : undefined,
      },
      { cause: error },
    );
  }
  const { docs, errors } = parseYamlStream(text);
  if (errors.length > 0) {
    throw gantryError('E_TEMPLATE', { problem: 'yaml', template, lines: [...errors, ...excerpt(text, errors)] });
  }
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.value === null || doc.value === undefined) continue; // empty document from a false {{#if}}
    objects.push(checkObject(doc.value, `${template} (document at rendered line ${doc.line})`, view));
  }
  return { file, template, objects, text: objects.map((o) => toYaml(canonical(o), implicit)).join('---\n') };
}

function checkObject(value: unknown, where: string, view: View): K8sObject {
  if (typeof value !== 'object' || Array.isArray(value) || value === null) throw gantryError('E_TEMPLATE', { problem: 'not-object', where });
  const o = value as Record<string, unknown>;
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') throw gantryError('E_TEMPLATE', { problem: 'no-kind', where });
  const metadata = o.metadata as Record<string, unknown> | undefined;
  if (!metadata || typeof metadata.name !== 'string' || metadata.name === '')
    throw gantryError('E_TEMPLATE', { problem: 'no-name', where, objectKind: o.kind });
  const labels = (metadata.labels ?? {}) as Record<string, unknown>;
  for (const key of [MANAGED_BY_LABEL, INSTANCE_LABEL] as const) {
    if (labels[key] !== view.labels[key]) {
      throw gantryError('E_TEMPLATE', { problem: 'label', where, object: `${o.kind}/${metadata.name}`, label: key, value: `${view.labels[key]}` });
    }
  }
  const object = `${o.kind}/${metadata.name}`;
  const why = limitProblem(o);
  if (why) throw gantryError('E_TEMPLATE', { problem: 'limit', where, object, field: why.field, why: why.why });
  return o as K8sObject;
}

/**
 * The API server's checks of metadata and ConfigMap size (src/names/limits.ts), on what was
 * rendered: gantry.yaml's values are checked by validate already, but Gantry's own annotations
 * add to the user's, and a user's template may write anything.
 */
function limitProblem(o: Record<string, unknown>): { field: string; why: string } | undefined {
  const meta = (at: string, m: Record<string, unknown> | undefined): { field: string; why: string } | undefined => {
    if (!m) return undefined;
    for (const [key, value] of Object.entries((m.labels ?? {}) as Record<string, unknown>)) {
      const why = qualifiedNameProblem(key) ?? labelValueProblem(String(value));
      if (why) return { field: `${at}.labels["${key}"]`, why };
    }
    const annotations = (m.annotations ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(annotations)) {
      const why = qualifiedNameProblem(key.toLowerCase());
      if (why) return { field: `${at}.annotations["${key}"]`, why };
    }
    const bytes = annotationBytes(Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, String(v)])));
    if (bytes > MAX_ANNOTATIONS_BYTES)
      return { field: `${at}.annotations`, why: `${bytes} bytes, at most ${MAX_ANNOTATIONS_BYTES} (${byteSize(MAX_ANNOTATIONS_BYTES)})` };
    return undefined;
  };
  const metadata = o.metadata as Record<string, unknown>;
  // RBAC objects' names are path segments ("system:..." is fine); the rest Gantry renders are
  // DNS-1123 subdomains (Service even a DNS-1035 label, which Gantry's own name always is).
  const rbac = typeof o.apiVersion === 'string' && o.apiVersion.startsWith('rbac.authorization.k8s.io/');
  const name = rbac ? undefined : dns1123SubdomainProblem(String(metadata.name));
  if (name) return { field: 'metadata.name', why: name };
  if (typeof metadata.namespace === 'string') {
    const why = dns1123LabelProblem(metadata.namespace);
    if (why) return { field: 'metadata.namespace', why };
  }
  const spec = o.spec as { template?: { metadata?: Record<string, unknown> } } | undefined;
  const found = meta('metadata', metadata) ?? meta('spec.template.metadata', spec?.template?.metadata);
  if (found) return found;
  if (o.kind === 'ConfigMap' && o.data && typeof o.data === 'object') {
    const bytes = dataBytes(Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v)])));
    if (bytes > MAX_DATA_BYTES) return { field: 'data', why: `${bytes} bytes of values, at most ${MAX_DATA_BYTES} (${byteSize(MAX_DATA_BYTES)})` };
  }
  return undefined;
}

/** apiVersion, kind, metadata (name, namespace, labels, annotations) first; the rest as written. */
export function canonical(object: K8sObject): K8sObject {
  const { apiVersion, kind, metadata, ...rest } = object;
  const { name, namespace, labels, annotations, ...metaRest } = metadata;
  const meta: Record<string, unknown> = { name };
  if (namespace !== undefined) meta.namespace = namespace;
  if (labels !== undefined) meta.labels = labels;
  if (annotations !== undefined) meta.annotations = annotations;
  return { apiVersion, kind, metadata: { ...meta, ...metaRest } as K8sObject['metadata'], ...rest };
}

function excerpt(text: string, errors: string[]): string[] {
  const lines = text.split('\n');
  const first = /^line (\d+)/.exec(errors[0] ?? '');
  if (!first) return [];
  const n = Number(first[1]);
  return ['rendered text around it:', ...lines.slice(Math.max(0, n - 3), n + 2).map((l, i) => `  ${Math.max(1, n - 2) + i} | ${l}`)];
}

async function readTemplates(dir: string): Promise<[string, string][]> {
  if (!existsSync(dir)) return [];
  const names = (await readdir(dir)).filter((n) => n.endsWith('.hbs')).sort();
  return Promise.all(names.map(async (n) => [n.slice(0, -4), await readFile(path.join(dir, n), 'utf8')] as [string, string]));
}

function createHandlebars(implicit: RegExp[]): typeof Handlebars {
  const hbs = Handlebars.create();
  // A YAML scalar: strings quoted when needed, numbers and booleans as they are.
  // Strict mode does not check helper arguments, so the helpers refuse a missing value.
  const defined = (helper: string, value: unknown, options: Handlebars.HelperOptions) => {
    if (value === undefined) {
      const line = (options as unknown as { loc?: { start: { line: number } } }).loc?.start.line ?? 0;
      throw new Error(`line ${line}: {{${helper}}} got no value (is the field name spelt right?)`);
    }
  };
  hbs.registerHelper('y', (value: unknown, options: Handlebars.HelperOptions) => {
    defined('y', value, options);
    if (typeof value === 'string') return yamlString(value, implicit);
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value === null) return 'null';
    throw new Error(`{{y}} takes a string, number or boolean; use {{json}} for ${Array.isArray(value) ? 'a list' : 'a mapping'}`);
  });
  // Any value inline. JSON is YAML flow syntax; strings get YAML escapes for non-printables.
  hbs.registerHelper('json', (value: unknown, options: Handlebars.HelperOptions) => {
    defined('json', value, options);
    return flow(value);
  });
  hbs.registerHelper('merge', (...args: unknown[]) => Object.assign({}, ...args.slice(0, -1).map((a) => a ?? {})));
  hbs.registerHelper('concat', (...args: unknown[]) =>
    args
      .slice(0, -1)
      .map((a) => String(a ?? ''))
      .join(''),
  );
  hbs.registerHelper('isNumber', (value: unknown) => typeof value === 'number');
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  return hbs;
}

function flow(value: unknown): string {
  if (typeof value === 'string') return quoteYaml(value);
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${quoteYaml(k)}: ${flow(v)}`)
      .join(', ')}}`;
  }
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}
