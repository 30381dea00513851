// Image references: parse, validate, and point them at the host the cluster pulls from.
import { gantryError } from '../errors.js';

export interface ImageRef {
  /** Registry host[:port]; empty for Docker Hub style names. */
  host: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

// The reference grammar of github.com/distribution/reference (regexp.go, reference.go), which
// docker and the kubelet parse images with: a tag is [\w][\w.-]{0,127}; path components are
// lowercase alphanumerics separated by ".", "_", "__" or "-"s; the domain is DNS labels (letters
// of either case) joined by "." with an optional :port; the whole name is at most 255 characters.
const digestPattern = /^sha256:[a-f0-9]{64}$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const domainPattern =
  /^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
export const IMAGE_NAME_MAX = 255;
export const TAG_RULE = 'a tag is 1 to 128 letters, digits, "_", "." and "-", not starting with "." or "-"';

/** Why `tag` cannot be an image tag, or undefined when it can. */
export function imageTagProblem(tag: string): string | undefined {
  if (tag === '') return `the tag is empty; ${TAG_RULE}`;
  if (tag.length > 128) return `the tag is ${tag.length} characters; ${TAG_RULE}`;
  return tagPattern.test(tag) ? undefined : TAG_RULE;
}

/** Why `text` is not an image reference, or undefined when it is one. */
export function imageRefProblem(text: string, options: { needTag?: boolean } = {}): string | undefined {
  if (text === '') return 'it is empty';
  // Kubernetes refuses an image with leading or trailing whitespace (validateContainerCommon),
  // and the grammar has no place for any: never trim one away silently.
  if (/[\s\p{Cc}]/u.test(text)) return 'it contains whitespace or a control character';
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) return 'the digest must be sha256: and 64 lowercase hex characters';
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const bad = imageTagProblem(tag);
    if (bad) return `bad tag "${tag}": ${bad}`;
  }
  if (rest.length > IMAGE_NAME_MAX) return `the name is ${rest.length} characters, at most ${IMAGE_NAME_MAX} allowed`;
  const parts = rest.split('/');
  if (parts.length > 1 && /[.:[]|^localhost$/.test(parts[0]!)) {
    const host = parts.shift()!;
    if (!domainPattern.test(host)) return `the registry host "${host}" must be a host name with an optional :port`;
  }
  if (parts.length === 0 || !parts.every((p) => componentPattern.test(p)))
    return 'the repository path must be lowercase letters and digits, separated by ".", "_", "__", "-" or "/"';
  if (options.needTag && !tag && !digest) return 'give a tag or a digest; Gantry never deploys an implicit :latest';
  return undefined;
}

export function parseImageRef(text: string, field = '--image'): ImageRef {
  const why = imageRefProblem(text, { needTag: true });
  if (why) throw gantryError('E_IMAGE_REF', { field, text, why });
  const at = text.indexOf('@');
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  let rest = at >= 0 ? text.slice(0, at) : text;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  let host = '';
  if (parts.length > 1 && /[.:[]|^localhost$/.test(parts[0]!)) host = parts.shift()!;
  return { host, repository: parts.join('/'), tag, digest };
}

export function formatImageRef(ref: ImageRef): string {
  const name = ref.host ? `${ref.host}/${ref.repository}` : ref.repository;
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Images pushed to `pushHost` are pulled by the cluster from `pullHost` (ACR's -vpc host). */
export function toPullHost(ref: ImageRef, pushHost: string | undefined, pullHost: string | undefined): ImageRef {
  if (pushHost && pullHost && ref.host === pushHost) return { ...ref, host: pullHost };
  return ref;
}
