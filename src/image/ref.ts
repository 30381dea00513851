// Image references: parse, validate, and point them at the host the cluster pulls from.
import { gantryError } from '../errors.js';

export interface ImageRef {
  /** Registry host[:port]; empty for Docker Hub style names. */
  host: string;
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const digestPattern = /^sha256:[a-f0-9]{64}$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const componentPattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export function parseImageRef(text: string, field = '--image'): ImageRef {
  const bad = (why: string) => gantryError('E_IMAGE_REF', { field, text, why });
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad('the digest must be sha256: and 64 lowercase hex characters');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad('bad tag');
  }
  const parts = rest.split('/');
  let host = '';
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) host = parts.shift()!;
  if (parts.length === 0 || !parts.every((p) => componentPattern.test(p))) throw bad('the repository path must be lowercase');
  if (!tag && !digest) throw bad('give a tag or a digest; Gantry never deploys an implicit :latest');
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
