// DNS-safe names, label values and the labels/annotations every Gantry object carries.
import { createHash } from 'node:crypto';
// The keys only (objects.ts imports nothing), so names stay free of the Kubernetes client.
import {
  COMMIT_ANNOTATION,
  DEPLOYED_BY_ANNOTATION,
  ENVIRONMENT_LABEL,
  INSTANCE_LABEL,
  MANAGED_BY_LABEL,
  MR_ANNOTATION,
  NAME_LABEL,
  PIPELINE_URL_ANNOTATION,
} from '../kube/objects.js';
import { dns1123LabelProblem } from './limits.js';

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

/**
 * Why a gantry.yaml name template (environments.<env>.namespace or domain) cannot be filled for
 * this environment, or undefined. {iid} exists only in a merge request preview (the review
 * environment): elsewhere it would be replaced by nothing, so `ns-{iid}` on staging would quietly
 * become `ns`, and every such environment would share it.
 */
export function placeholderProblem(template: string, envName: string): string | undefined {
  if (envName !== 'review' && template.includes('{iid}')) {
    return `{iid} (the merge request) is only known in the review environment; on ${envName} it would be left empty`;
  }
  return undefined;
}

/**
 * Why `name` (a namespace after its placeholders are filled) is not one Kubernetes accepts, with
 * the name it could be instead; undefined when it is fine. The configured name is never rewritten
 * behind the user's back: `Hello_Staging` is an error that suggests `hello-staging`.
 */
export function namespaceProblem(name: string): { why: string; suggestion: string } | undefined {
  const why = dns1123LabelProblem(name);
  return why ? { why, suggestion: dnsLabel(name) } : undefined;
}

/** The label that marks what Gantry made: previews are only deleted when their namespace has it. */
export { MANAGED_BY_LABEL };

/** The preview namespace as a template of environments.review.namespace: what previewNamespace makes. */
export const PREVIEW_NAMESPACE_TEMPLATE = '{app}-mr-{iid}';

/**
 * A merge request's preview namespace (and instance name) when gantry.yaml names none:
 * <app>-mr-<iid>. The iid is placed as given, so a missing one reads "undefined", as it always has.
 */
export function previewNamespace(app: string, iid: string | undefined): string {
  return dnsLabel(`${app}-mr-${iid}`);
}

/** What tells one environment's copy of the app from another's: <app>-<env>, or the preview's name. */
export function instanceName(app: string, envName: string, iid: string | undefined): string {
  return envName === 'review' ? previewNamespace(app, iid) : dnsLabel(`${app}-${envName}`);
}

/**
 * The CI variable that holds an environment's kubeconfig: the configured one, else
 * KUBECONFIG_<ENV>. The one rule, kept here (not in src/kube) so resolving a target does not load
 * the Kubernetes client.
 */
export function kubeconfigVariableName(environment: string, configured?: string): string {
  return configured ?? `KUBECONFIG_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The labels every object of one environment's app carries. */
export function environmentLabels(app: string, instance: string, envName: string): Record<string, string> {
  return {
    [NAME_LABEL]: app,
    [INSTANCE_LABEL]: instance,
    [MANAGED_BY_LABEL]: 'gantry',
    [ENVIRONMENT_LABEL]: labelValue(envName),
  };
}

/** The Deployment's selector: the labels that never change between revisions. */
export function selectorLabels(app: string, instance: string): Record<string, string> {
  return { [NAME_LABEL]: app, [INSTANCE_LABEL]: instance };
}

/** The annotations that tie an object to the commit, pipeline, merge request and person that deployed it. */
export function deployAnnotations(ci: { sha: string; pipelineUrl: string; mrIid?: string | undefined; actor: string }): Record<string, string> {
  return {
    [COMMIT_ANNOTATION]: ci.sha,
    [PIPELINE_URL_ANNOTATION]: ci.pipelineUrl,
    [MR_ANNOTATION]: ci.mrIid ?? '',
    [DEPLOYED_BY_ANNOTATION]: ci.actor,
  };
}

/**
 * The preview namespace of a merge request, and the reverse: which iid a namespace belongs to.
 * The template is gantry.yaml's environments.review.namespace ({app}, {iid}, {env}), or
 * <app>-mr-<iid>. A match is only believed when the iid maps back to exactly that name, so a
 * name shortened with a hash, or another app's namespace, is never taken for a preview.
 */
export function previewNamespaceNames(app: string, template: string): { nameOf(iid: string): string; iidOf(name: string): string | undefined } | undefined {
  if (!template.includes('{iid}') || template.includes('{slug}')) return undefined;
  // No {slug} here (refused above): one name per merge request, whatever its branch.
  const nameOf = (iid: string) => dnsLabel(fillPlaceholders(template, { app, iid, slug: '', env: 'review' }));
  // dnsLabel keeps digits as they are: a probe iid marks where the iid lands in the name.
  const probe = '918273645';
  const sample = nameOf(probe);
  if (sample.split(probe).length !== 2) return undefined;
  const [before, after] = sample.split(probe).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`^${before}([1-9][0-9]*)${after}$`);
  return {
    nameOf,
    iidOf(name) {
      const iid = pattern.exec(name)?.[1];
      return iid !== undefined && nameOf(iid) === name ? iid : undefined;
    },
  };
}
