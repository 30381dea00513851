// DNS-safe names, label values and the labels/annotations every Gantry object carries.
import { createHash } from 'node:crypto';

export const MAX_LABEL = 63;

function shortHash(input: string): string {
  return createHash('sha256').update(input).digest('hex').slice(0, 6);
}

/**
 * An RFC 1123 label (lowercase alphanumerics and "-", alphanumeric at both ends, <= max chars).
 * When the cleaned name has to be cut, a 6-char hash of the original keeps it unique.
 */
export function dnsLabel(input: string, max: number = MAX_LABEL): string {
  let name = input
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (name === '') name = `x-${shortHash(input)}`;
  if (name.length > max) {
    const keep = name.slice(0, max - 7).replace(/-+$/, '');
    name = `${keep}-${shortHash(input)}`;
  }
  return name;
}

/** An RFC 1035 label (also starts with a letter): Service and container names need this. */
export function dns1035Label(input: string, max: number = MAX_LABEL): string {
  const label = dnsLabel(input, max);
  return /^[a-z]/.test(label) ? label : dnsLabel(`x-${label}`, max);
}

/**
 * GitLab's CI_COMMIT_REF_SLUG (Gitlab::Utils.slugify): lowercase, every character other than
 * [a-z0-9] replaced by "-" one for one (runs are not merged: "a__b" is "a--b"), cut to 63
 * characters, then no "-" at either end. Environment names such as review/<slug> are built from
 * it, so it must match GitLab's exactly for `gantry cleanup-previews` to find them.
 */
export function slugify(ref: string): string {
  return ref
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/** A label value: <= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends (may be empty). */
export function labelValue(input: string): string {
  let value = input.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (value.length > MAX_LABEL) value = `${value.slice(0, MAX_LABEL - 7).replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(input)}`;
  return value;
}

/**
 * The placeholders of gantry.yaml's names (environments.<env>.namespace, domain, ...): {app},
 * {iid} (the merge request), {slug} (CI_COMMIT_REF_SLUG) and {env}. `gantry stop` and
 * `gantry cleanup-previews` fill a review namespace with this too, so they find what deploy made.
 */
export function fillPlaceholders(text: string, values: { app: string; iid: string; slug: string; env: string }): string {
  return text.replaceAll('{app}', values.app).replaceAll('{iid}', values.iid).replaceAll('{slug}', values.slug).replaceAll('{env}', values.env);
}
