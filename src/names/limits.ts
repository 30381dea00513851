// The limits the Kubernetes API server enforces on what Gantry renders, checked before anything
// is applied so a bad value is exit 2 with the field and the limit, not a refused apply halfway
// through a deploy. Each rule is Kubernetes' own, cited where it lives; each check returns the
// reason it fails (undefined when the value is fine), so callers can name the field.

/**
 * int32 fields (replicas, minReplicas/maxReplicas, progressDeadlineSeconds, probe timings, ports,
 * averageUtilization, an integer maxSurge/maxUnavailable): the Go types in k8s.io/api are int32,
 * and a larger number is refused when the object is decoded.
 */
export const INT32_MAX = 2_147_483_647;

/**
 * ConfigMap and Secret data: k8s.io/kubernetes pkg/apis/core/types.go MaxSecretSize = 1 * 1024 *
 * 1024; ValidateConfigMap and ValidateSecret (pkg/apis/core/validation/validation.go) add up the
 * byte length of every value and refuse a total above it.
 */
export const MAX_DATA_BYTES = 1024 * 1024;

/**
 * All annotations of one object together (keys and values, in bytes):
 * k8s.io/apimachinery pkg/api/validation/objectmeta.go TotalAnnotationSizeLimitB = 256 * (1 << 10).
 */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

// k8s.io/apimachinery pkg/util/validation/validation.go: dns1123LabelFmt, DNS1123LabelMaxLength.
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MAX = 63;
// Same file: dns1123SubdomainFmt (labels joined by "."), DNS1123SubdomainMaxLength.
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_SUBDOMAIN_MAX = 253;
// Same file: qualifiedNameFmt, qualifiedNameMaxLength; labelValueFmt, LabelValueMaxLength.
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const QUALIFIED_NAME_MAX = 63;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const LABEL_VALUE_MAX = 63;

/** What a DNS-1123 label is, for messages. */
export const DNS1123_LABEL_RULE = `lowercase letters, digits and "-", starting and ending with a letter or digit, at most ${DNS1123_LABEL_MAX} characters (Kubernetes' DNS-1123 label)`;
export const DNS1123_SUBDOMAIN_RULE = `lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most ${DNS1123_SUBDOMAIN_MAX} characters (Kubernetes' DNS-1123 subdomain)`;
export const QUALIFIED_NAME_RULE = `an optional DNS subdomain prefix (at most ${DNS1123_SUBDOMAIN_MAX} characters) and "/", then a name of at most ${QUALIFIED_NAME_MAX} letters, digits, "-", "_" and ".", starting and ending with a letter or digit (Kubernetes' qualified name)`;

/** IsDNS1123Label: namespaces, and the names Gantry derives from app and environment. */
export function dns1123LabelProblem(value: string): string | undefined {
  if (value.length > DNS1123_LABEL_MAX) return `${value.length} characters, at most ${DNS1123_LABEL_MAX} allowed`;
  if (!dns1123Label.test(value)) return `must be ${DNS1123_LABEL_RULE}`;
  return undefined;
}

/** IsDNS1123Subdomain: object names such as a Secret or an IngressClass. */
export function dns1123SubdomainProblem(value: string): string | undefined {
  if (value.length > DNS1123_SUBDOMAIN_MAX) return `${value.length} characters, at most ${DNS1123_SUBDOMAIN_MAX} allowed`;
  if (!dns1123Subdomain.test(value)) return `must be ${DNS1123_SUBDOMAIN_RULE}`;
  return undefined;
}

/** IsQualifiedName: label and annotation keys, e.g. example.com/owner or owner. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `has more than one "/"; must be ${QUALIFIED_NAME_RULE}`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return 'the prefix before "/" is empty';
    const bad = dns1123SubdomainProblem(prefix);
    if (bad) return `the prefix "${prefix}" ${bad.startsWith('must') ? bad : `is ${bad}`}`;
  }
  if (name === '') return `the name part is empty; must be ${QUALIFIED_NAME_RULE}`;
  if (name.length > QUALIFIED_NAME_MAX) return `the name part is ${name.length} characters, at most ${QUALIFIED_NAME_MAX} allowed`;
  if (!qualifiedName.test(name)) return `must be ${QUALIFIED_NAME_RULE}`;
  return undefined;
}

/** IsValidLabelValue: empty, or at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX) return `${value.length} characters, at most ${LABEL_VALUE_MAX} allowed`;
  if (!labelValue.test(value)) return `must be empty or letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  return undefined;
}

/** UTF-8 bytes of keys and values: what TotalAnnotationSizeLimitB counts. */
export function annotationBytes(annotations: Record<string, string>): number {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) total += Buffer.byteLength(key) + Buffer.byteLength(value);
  return total;
}

/** UTF-8 bytes of the values: what ValidateConfigMap and ValidateSecret add up against MaxSecretSize. */
export function dataBytes(data: Record<string, string> | readonly (readonly [string, string])[]): number {
  let total = 0;
  for (const [, value] of Array.isArray(data) ? data : Object.entries(data)) total += Buffer.byteLength(value);
  return total;
}

/** 1048576 -> "1 MiB", 262144 -> "256 KiB": limits as Kubernetes states them. */
export function byteSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
