// Bucket static website hosting (`gantry frontend --website`): the WebsiteConfiguration Gantry
// wants, read back from OSS, compared, and PUT only when it differs.
//
// ali-oss's putBucketWebsite cannot send ErrorDocument/HttpStatus, which an SPA needs (every
// unknown path answers index.html with 200, not 404), so the request goes through the client's
// own signed `request()` with the XML built here. A bucket has one website configuration, so it
// always describes the live site under the base prefix, never a preview.
import type { Ctx } from '../context.js';
import { type GantryError, gantryError } from '../errors.js';
import { ossClient, ossError, type OssTarget } from './client.js';
import { type Deadlines, untilAborted, withRetry } from '../retry.js';
import { ossRetry } from './publish.js';

/** frontend.website in gantry.yaml. */
export interface WebsiteSettings {
  index: string;
  notFound?: string | undefined;
  spa: boolean;
}

/** The parts of an OSS WebsiteConfiguration Gantry manages, normalised. */
export interface WebsiteConfig {
  /** IndexDocument/Suffix: what `dir/` serves. */
  index: string;
  /** IndexDocument/SupportSubDir: `docs/` serves docs/index.html (false: the root one). */
  supportSubDir: boolean;
  /** IndexDocument/Type: 0 redirects `docs` to `docs/` when docs/index.html exists. */
  type: number;
  /** ErrorDocument/Key: a full object key. */
  errorKey?: string | undefined;
  /** ErrorDocument/HttpStatus: 404, or 200 for an SPA. */
  errorStatus?: number | undefined;
  /** Inner XML of RoutingRules, kept as found: rules set in the console survive a PUT. */
  routingRulesXml?: string | undefined;
}

/** What gantry.yaml asks for. Keys are full object keys, so the base prefix is part of them. */
export function desiredWebsite(settings: WebsiteSettings, basePrefix: string): WebsiteConfig {
  const page = settings.spa ? settings.index : settings.notFound;
  return {
    index: settings.index,
    // Subdirectory index pages are what the CDN refresh of `https://domain/docs/` assumes.
    supportSubDir: true,
    type: 0,
    ...(page ? { errorKey: basePrefix + page, errorStatus: settings.spa ? 200 : 404 } : {}),
  };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(parseInt(n, 10)))
    .replace(/&amp;/g, '&');
}

/** The PutBucketWebsite body: stable, indented (it is what --dry-run prints). */
export function websiteXml(config: WebsiteConfig): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<WebsiteConfiguration>',
    '  <IndexDocument>',
    `    <Suffix>${escapeXml(config.index)}</Suffix>`,
    `    <SupportSubDir>${config.supportSubDir}</SupportSubDir>`,
    `    <Type>${config.type}</Type>`,
    '  </IndexDocument>',
  ];
  if (config.errorKey !== undefined) {
    lines.push('  <ErrorDocument>', `    <Key>${escapeXml(config.errorKey)}</Key>`);
    if (config.errorStatus !== undefined) lines.push(`    <HttpStatus>${config.errorStatus}</HttpStatus>`);
    lines.push('  </ErrorDocument>');
  }
  if (config.routingRulesXml !== undefined) lines.push(`  <RoutingRules>${config.routingRulesXml}</RoutingRules>`);
  lines.push('</WebsiteConfiguration>');
  return lines.join('\n');
}

// GetBucketWebsite answers a small document whose elements Gantry reads are leaves at known
// places, so matching by element name inside its parent is enough (no XML dependency).
function element(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`).exec(xml);
  return m ? (m[1] ?? '') : undefined;
}

function text(xml: string | undefined, tag: string): string | undefined {
  if (xml === undefined) return undefined;
  const v = element(xml, tag);
  return v === undefined ? undefined : unescapeXml(v.trim());
}

/** Reads a GetBucketWebsite answer, with OSS's defaults filled in for what it leaves out. */
export function parseWebsiteXml(xml: string): WebsiteConfig {
  const root = element(xml, 'WebsiteConfiguration');
  if (root === undefined) throw new Error('not a WebsiteConfiguration document');
  const index = element(root, 'IndexDocument');
  const error = element(root, 'ErrorDocument');
  const errorKey = text(error, 'Key');
  const status = text(error, 'HttpStatus');
  const rules = element(root, 'RoutingRules');
  return {
    index: text(index, 'Suffix') ?? '',
    supportSubDir: text(index, 'SupportSubDir') === 'true',
    type: Number(text(index, 'Type') || 0),
    ...(errorKey ? { errorKey, errorStatus: status ? Number(status) : 404 } : {}),
    ...(rules !== undefined && rules.trim() !== '' ? { routingRulesXml: rules } : {}),
  };
}

/** What differs, one line per setting (`ErrorDocument/HttpStatus: 404 -> 200`); [] when nothing. */
export function websiteChanges(current: WebsiteConfig | null, desired: WebsiteConfig): string[] {
  const show = (v: unknown) => (v === undefined ? '(none)' : String(v));
  const fields: [string, unknown, unknown][] = [
    ['IndexDocument/Suffix', current?.index, desired.index],
    ['IndexDocument/SupportSubDir', current?.supportSubDir, desired.supportSubDir],
    // Type only counts when SupportSubDir is on.
    ['IndexDocument/Type', current?.supportSubDir ? current.type : undefined, desired.supportSubDir ? desired.type : undefined],
    ['ErrorDocument/Key', current?.errorKey, desired.errorKey],
    ['ErrorDocument/HttpStatus', current?.errorStatus, desired.errorStatus],
  ];
  if (!current) return [`no website hosting yet`, ...fields.filter(([, , d]) => d !== undefined).map(([n, , d]) => `${n}: ${show(d)}`)];
  return fields.filter(([, c, d]) => c !== d).map(([n, c, d]) => `${n}: ${show(c)} -> ${show(d)}`);
}

/** The two bucket calls the website step makes; XML in and out. */
export interface WebsiteApi {
  /** The current configuration document, or null when the bucket has none. */
  get(): Promise<string | null>;
  put(xml: string): Promise<void>;
}

export interface WebsiteOutcome {
  /** The configuration differed (or there was none). */
  changed: boolean;
  /** A PUT was sent (never in --dry-run). */
  applied: boolean;
  changes: string[];
  xml: string;
}

/**
 * Reads the bucket's configuration and PUTs the desired one only when a managed setting differs;
 * routing rules already there are sent back unchanged. In --dry-run it prints the XML instead.
 */
export async function applyWebsite(ctx: Ctx, api: WebsiteApi, desired: WebsiteConfig): Promise<WebsiteOutcome> {
  const currentXml = await api.get();
  let current: WebsiteConfig | null = null;
  if (currentXml !== null) {
    try {
      current = parseWebsiteXml(currentXml);
    } catch {
      current = null;
    }
  }
  const wanted: WebsiteConfig = { ...desired, ...(current?.routingRulesXml ? { routingRulesXml: current.routingRulesXml } : {}) };
  const xml = websiteXml(wanted);
  const changes = websiteChanges(current, wanted);
  if (changes.length === 0) {
    ctx.logger.info('website hosting is already configured as gantry.yaml says: nothing to change');
    return { changed: false, applied: false, changes, xml };
  }
  for (const c of changes) ctx.logger.info(`  ${c}`);
  if (current?.routingRulesXml) ctx.logger.info("  (the bucket's routing rules are kept as they are)");
  ctx.logger.info(`${ctx.dryRun ? 'would PUT' : 'PUT'} ?website:`);
  for (const line of xml.split('\n')) ctx.logger.info(`  ${line}`);
  if (ctx.dryRun) return { changed: true, applied: false, changes, xml };
  await api.put(xml);
  return { changed: true, applied: true, changes, xml };
}

// The private part of ali-oss used here: the signed request every public method goes through
// (node_modules/ali-oss/lib/client.js, as putBucketWebsite.js calls it).
interface RawOssClient {
  request(params: {
    method: string;
    bucket: string;
    subres: string;
    content?: Buffer;
    mime?: string;
    successStatuses: number[];
    timeout?: number;
  }): Promise<{ status: number; data: Buffer | string }>;
}

/** GET/PUT ?website on the bucket through ali-oss's signing, with transient failures retried. */
export function ossWebsiteApi(ctx: Ctx, target: OssTarget, retries: number): WebsiteApi {
  const client = ossClient(target, ctx.deadlines) as unknown as RawOssClient;
  const fail = (doing: string) => (error: unknown) => {
    throw websiteError(doing, target, error, ctx.deadlines);
  };
  return {
    async get() {
      const doing = `get the website configuration of ${target.bucket}`;
      try {
        const r = await untilAborted(
          ctx.signal,
          withRetry(ctx, doing, () => client.request({ method: 'GET', bucket: target.bucket, subres: 'website', successStatuses: [200] }), {
            ...ossRetry,
            retries,
          }),
        );
        return Buffer.isBuffer(r.data) ? r.data.toString('utf8') : String(r.data);
      } catch (error) {
        if ((error as { code?: string }).code === 'NoSuchWebsiteConfiguration') return null;
        return fail(doing)(error);
      }
    },
    async put(xml) {
      const doing = `put the website configuration of ${target.bucket}`;
      // A Buffer, so Content-Length counts bytes (ali-oss takes .length) and Content-MD5 is sent.
      const content = Buffer.from(xml, 'utf8');
      await untilAborted(
        ctx.signal,
        withRetry(ctx, doing, () => client.request({ method: 'PUT', bucket: target.bucket, subres: 'website', content, mime: 'xml', successStatuses: [200] }), {
          ...ossRetry,
          retries,
        }),
      ).catch(fail(doing));
    },
  };
}

function websiteError(doing: string, target: OssTarget, error: unknown, deadlines: Deadlines): GantryError {
  const e = error as { code?: string; status?: number; message?: string };
  // A refused document (InvalidArgument, MalformedXML) is not an access or network problem.
  if (e.status === 400) {
    return gantryError('E_OSS_WEBSITE', { doing, reason: e.code ?? e.status, answer: (e.message ?? '').split('\n')[0] ?? '' });
  }
  if (e.code === 'AccessDenied' || e.status === 403) {
    const denied = ossError(doing, target, error, deadlines);
    return gantryError('E_OSS_ACCESS', { problem: 'website', refused: denied.message });
  }
  return ossError(doing, target, error, deadlines);
}
