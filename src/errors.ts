// The error catalogue: every failure Gantry reports has a stable code, a one-line message,
// details, and how to fix it. Exit codes: 1 = the deploy (or another outside action) failed,
// 2 = bad input or configuration (nothing was done).
//
// Each code's message and fix are functions of a typed details object (ErrorDetails below), so the
// text a user reads is written once, here, and a call site only says what it found:
//   throw gantryError('E_ENV_UNKNOWN', { envName, known: Object.keys(config.environments) });
// Codes whose sites have not moved their text here yet take Said ({ message, fix?, lines? }), and
// `new GantryError(code, message, { details, fix, cause })` still works for them.

/** The text a call site still writes itself; the catalogue passes it through. */
export interface Said {
  message: string;
  fix?: string | undefined;
  lines?: string[] | undefined;
}

/** What each code needs to say its message and fix. */
export interface ErrorDetails {
  E_USAGE:
    | { unknownCommand: string; commands: string[] }
    | { command: string; usage: string; parse: string }
    | { command: string; usage: string; missing: 'env' }
    | { command: string; usage: string; flag: 'status'; value: string | undefined; allowed: readonly string[] }
    | { flag: 'to'; value: string }
    | { flag: 'replicas'; value: string | undefined; max: number }
    | { flag: 'stop'; outsideReview: true }
    | { flag: 'timeout'; value: string | undefined; min: number; max: number; default: string }
    | { flag: 'mr'; value: string }
    | { flag: 'concurrency'; value: string | undefined }
    | { flag: 'port'; value: string | undefined }
    | { flag: 'app'; value: string }
    | { flag: 'namespace'; value: string; filled: string; why: string; suggestion: string }
    | { flag: 'env'; command: 'stop'; value: string };
  E_CONFIG_MISSING: { candidates: string[]; cwd: string; explicit: boolean };
  E_CONFIG_SYNTAX: { label: string; lines: string[] };
  E_CONFIG_INVALID:
    | Said
    | { label: string; notMapping: true }
    | { label: string; problems: string[]; count: number }
    | { command: 'build'; needs: 'registry' }
    | { command: 'frontend'; needs: 'frontend' };
  // #13: files and directories named on the command line, and gantry.yaml's size limits.
  E_CONFIG_FILE:
    | { label: string; via: string | undefined; problem: 'directory' | 'not-regular' }
    | { label: string; via: string | undefined; problem: 'too-large'; size: number; limitBytes: number }
    | { label: string; via: string | undefined; problem: 'unreadable'; reason: string };
  E_CONFIG_LIMIT: { label: string; limit: 'depth'; max: number; line: number } | { label: string; limit: 'aliases'; max: number };
  E_OUT_PATH: { out: string; dir: string; problem: 'empty' | 'not-directory' | 'not-writable' | 'target-not-file'; target?: string; reason?: string };
  E_CWD: { flag: '-C'; dir: string; reason: string };
  // Bad input, one code per thing the user got wrong (all exit 2).
  E_ENV_UNKNOWN: { envName: string; known: string[]; offerToAdd: boolean };
  E_MR_MISSING: { needs: 'review' | 'stop'; saysWhereCiSetsIt: boolean };
  E_MR_IID: { iid: string };
  E_PROJECT_MISSING: { mergeRequestVariable: boolean };
  E_APP_MISSING: { command: 'stop' | 'cleanup-previews' };
  E_IMAGE_REF: { field: string; text: string; why: string };
  E_IMAGE_MISSING: Record<string, never>;
  E_CI_SECRET_TOO_LARGE: { name: string; bytes: number; limit: number; largest: { variable: string; bytes: number }[] };
  E_COMMIT_MISSING: { canPassImage: boolean };
  E_GITLAB_URL_MISSING: Record<string, never>;
  E_GITLAB_URL: { variable: 'GANTRY_GITLAB_URL' | 'CI_SERVER_URL' | 'CI_API_V4_URL'; value: string; notHttp: boolean };
  E_OSS_CREDENTIALS_MISSING: { purpose: string; bucket: string };
  E_CDN_KEY_PARTIAL: { missing: 'ID' | 'SECRET' };
  E_REGISTRY_CREDENTIALS_PARTIAL: Record<string, never>;
  E_BUCKET_REGION_MISSING: { bucket: string };
  E_LEASE_SECONDS: { value: string | undefined };
  E_SCALE_REPLICAS: { deployment: string; replicas: number };
  E_SCALE_AUTOSCALED: { envName: string; min: number; max: number };
  E_ROLLBACK_NO_PREVIOUS: { deployment: string; namespace: string; current: string | number };
  E_NAMESPACE_NOT_GANTRY: { namespace: string; label: string };
  E_DIAGNOSIS_FILE: { file: string; unreadable: string } | { file: string; notJson: string } | { file: string; wrongShape: true };
  E_INIT_PACKAGE_JSON: { path: string; reason: string };
  E_INIT_DIR_NOT_WRITABLE: { dir: string; reason: string };
  E_INIT_PATH_BLOCKED: { blocked: string[] };
  // #14 services (lead): managed bindings' URLs and instances that do not become ready.
  E_SERVICE_URL: { service: string; kind: string; where: string; problem: string };
  E_SERVICE_URL_MISSING: { service: string; variable: string; envName: string };
  E_SERVICE_SECRET_MISSING: { service: string; namespace: string; secret: string; key: string; problem: 'no-secret' | 'no-key' };
  E_SERVICE_SEED_FILE: { service: string; file: string; problem: string };
  E_SERVICE_NOT_READY: { service: string; instance: string; namespace: string; seconds: number; why: string; lines: string[] };
  // Outside actions and the rest.
  E_TEMPLATE:
    | { problem: 'render'; template: string; reason: string; line: { number: string; text: string } | undefined }
    | { problem: 'yaml'; template: string; lines: string[] }
    | { problem: 'not-object' | 'no-kind'; where: string }
    | { problem: 'no-name'; where: string; objectKind: string }
    | { problem: 'label'; where: string; object: string; label: string; value: string }
    | { problem: 'limit'; where: string; object: string; field: string; why: string };
  E_BUILD_NO_SOURCE: { dir: string; problem: 'nothing' | 'no-start' } | { dir: string; badJson: string };
  E_DOCKER_UNAVAILABLE: { dockerHost: string | undefined; output: string[] };
  E_BUILD_FAILED: { dockerfile: string | undefined; step: string[] };
  E_REGISTRY_AUTH: { host: string; user: string; output: string[] } | { host: string; user: string; answeredBy: string; status: number };
  E_REGISTRY_UNREACHABLE:
    | { problem: 'login'; doing: string; host: string; output: string[] }
    | { problem: 'no-answer'; get: string; why: string; host: string; scheme: string }
    | { problem: 'not-registry'; url: string; status: number; host: string }
    | { problem: 'bad-realm'; host: string; realm: string }
    | { problem: 'token-status'; tokenService: string; status: number }
    | { problem: 'no-token'; tokenService: string; host: string };
  E_PUSH_DENIED: { host: string; image: string; output: string[] } | { image: string; failed: true; output: string[] };
  E_FRONTEND_BUILD_FAILED: { command: string | undefined; exitCode: number | null; output: string[] };
  E_FRONTEND_EMPTY: { dir: string; exists: boolean };
  E_PREVIEW_ABSOLUTE_PATH: Said;
  E_OSS_ACCESS:
    | { problem: 'path-style'; doing: string; where: string }
    | { problem: 'refused'; doing: string; where: string; reason: string | number | undefined; pathStyleHint: boolean }
    | { problem: 'website'; refused: string };
  E_OSS_BUCKET: { doing: string; where: string; pathStyleHint: boolean };
  E_OSS_UNREACHABLE: { doing: string; where: string; reason: string | number };
  E_KUBECONFIG: Said;
  E_KUBE_UNREACHABLE: { doing: string; server: string; reason: string } & ({ tls: true } | { tls: false; code: string; waited?: string });
  E_KUBE_UNAUTHORIZED: { doing: string; answer: string };
  E_KUBE_FORBIDDEN:
    | { problem: 'unparsed'; doing: string; answer: string }
    | { problem: 'rbac'; doing: string; answer: string; user: string; verb: string; resource: string; group: string; namespace: string | undefined }
    | { problem: 'create-namespace'; namespace: string; refused: { message: string; fix: string | undefined } }
    | { problem: 'namespace-access'; namespace: string; cannotRead: string; refused: { message: string; fix: string | undefined } }
    | { problem: 'list-namespaces'; variable: string; refused: { message: string; details: string[] } }
    | { problem: 'read-preview-namespace'; namespace: string; variable: string; refused: string };
  E_KUBE_NOT_FOUND:
    | Said
    | { problem: 'status'; doing: string; answer: string }
    | { problem: 'track'; what: string }
    | { problem: 'scale' | 'history'; deployment: string; namespace: string }
    | { problem: 'namespace'; namespace: string; cannotRead: string };
  E_KUBE_API:
    | Said
    | { problem: 'not-served'; doing: string; groupVersion: string; kind: string }
    | { problem: 'status'; doing: string; answer: string; status: number; reason: string | undefined }
    | { problem: 'other'; doing: string; reason: string }
    | { problem: 'exec-plugin'; doing: string; command: string; said: string }
    | { problem: 'namespace-terminating'; namespace: string }
    | { problem: 'namespace-still-terminating'; namespace: string; seconds: number }
    | { problem: 'rollback-stalled'; deployment: string };
  E_APPLY_INVALID: { refused: string[]; total: number };
  E_ROLLBACK_REVISION: { deployment: string; revision: number; kept: number[] };
  E_DEPLOY_LOCKED:
    | { where: string; gaveUpAfter: number | undefined; heldBy: string | undefined }
    | { where: string; lostTo: string }
    | { where: string; notRenewedFor: number };
  E_OSS_WEBSITE: { doing: string; reason: string | number | undefined; answer: string };
  E_CDN_ACCESS: { published: string; urls: string[]; code: string; answer: string };
  E_CDN_REFRESH:
    | { problem: 'quota'; published: string; urls: string[]; code: string; answer: string }
    | { problem: 'refused'; published: string; urls: string[]; code: string; answer: string }
    | { problem: 'no-answer'; published: string; urls: string[]; reason: string; endpoint: string };
  E_ROLLOUT_IMAGE_PULL: Said;
  E_ROLLOUT_CRASHLOOP: Said;
  E_ROLLOUT_OOM: Said;
  E_ROLLOUT_CONFIG: Said;
  E_ROLLOUT_CREATE: Said;
  E_ROLLOUT_UNSCHEDULABLE: Said;
  E_ROLLOUT_ECI: Said;
  E_ROLLOUT_READINESS: Said;
  E_ROLLOUT_REPLICA_FAILURE: Said;
  E_ROLLOUT_DEADLINE: Said;
  E_ROLLOUT_TIMEOUT: Said;
  E_ROLLOUT_DELETED: Said;
  E_ROLLOUT_ABORTED: Said;
  E_INTERNAL: Said | { doing: string; reason: string };
  // Deadlines (src/retry.ts): a bad GANTRY_*_TIMEOUT (exit 2), a step that ran out of time (exit 1).
  E_TIMEOUT_VARIABLE: { variable: string; value: string; min: number; max: number };
  E_STEP_TIMEOUT: { command: string; seconds: number; variable: string };
  E_GITLAB_TOKEN: { acceptsJobToken: boolean } | { command: 'cleanup-previews' };
  E_GITLAB_ACCESS:
    | { checked: string; status: 401 }
    | { checked: string; status: 403 | 404; project: string | undefined }
    | { doing: string; status: 401 | 403; tokenVariable: string; jobToken: boolean; host: string; answer: string };
  E_GITLAB_UNREACHABLE: { checked: string; host: string; why: string } | { doing: string; reason: string; causeCode: string | undefined; host: string };
  E_GITLAB_API:
    | { checked: string; status: number }
    | { doing: string; status: number; answer: string; host: string }
    | { doing: string; retriesExhausted: string; host: string };
  E_INIT_NO_PACKAGE: { dir: string };
  E_INIT_EXISTS: { dir: string; existing: string[] };
  E_INIT_WRITE: { dir: string; written: string[]; total: number; reason: string };
  // #14 jobs: the migration and seed Jobs (src/services/job.ts). `log` is the container's last
  // lines, already masked; `kept` whether the Job stays in the namespace for inspection.
  E_MIGRATION_FAILED:
    | {
        problem: 'exited';
        job: string;
        namespace: string;
        termination: string;
        oom: boolean;
        memoryLimit: string | undefined;
        log: string[];
        evidence: string[];
        kept: boolean;
      }
    | { problem: 'cannot-start'; job: string; namespace: string; cause: string; said: string; evidence: string[]; fix: string }
    | { problem: 'cannot-create'; job: string; namespace: string; said: string }
    | { problem: 'gone'; job: string; namespace: string };
  E_MIGRATION_TIMEOUT: { job: string; namespace: string; seconds: number; setting: string; log: string[]; evidence: string[]; deleted: boolean };
  E_SEED_FAILED: ErrorDetails['E_MIGRATION_FAILED'];
  E_SEED_TIMEOUT: ErrorDetails['E_MIGRATION_TIMEOUT'];
  // #14 reach: the check, before the rollout, that each service answers from the namespace.
  E_SERVICE_UNREACHABLE: {
    failures: ServiceFailure[];
    total: number;
    podIP: string;
    podCidr?: string;
    podCidrSource?: 'node' | 'interface';
    podCidrNote?: string;
    connectSeconds: number;
  };
  E_SERVICE_CHECK_TIMEOUT: { namespace: string; pod: string; seconds: number; state: string; running: boolean; lines: string[] };
  E_SERVICE_CHECK_FAILED:
    | { problem: 'gone'; namespace: string; pod: string }
    | { problem: 'no-result'; namespace: string; pod: string; ended: string; noNode: boolean; log: string[] };
  // #15 canary (lead): the steps, the analysis, promote and abort.
  E_CANARY_ABORTED: {
    deployment: string;
    namespace: string;
    step: number;
    steps: number;
    weight: number;
    check: string;
    reason: string;
    lines: string[];
    abortSeconds: number;
  };
  E_CANARY_NONE: { command: 'promote' | 'abort'; deployment: string; namespace: string };
  E_CANARY_MISMATCH: { deployment: string; namespace: string; running: string; rendered: string };
  E_PROMETHEUS: { host: string; reason: string };
  E_PROMETHEUS_MISSING: { envName: string; variable: string; queries: string[] };
  E_ANALYSIS_QUERY: { envName: string; name: string; query: string; reason: string; unauthorized?: boolean };
  E_CANARY_KRUISE: { envName: string };
  // #15 traffic: the canary's objects (src/canary/objects.ts), refused before anything is applied.
  E_CANARY_NO_INGRESS: { envName: string; traffic: 'nginx' | 'alb' };
  E_CANARY_INGRESS_CLASS: { envName: string; traffic: 'nginx' | 'alb'; className: string };
  E_CANARY_TEMPLATE: { object: string; problem: string; fix: string };
  // #15 frontend releases: gantry frontend --stage / --activate / --rollback (src/site/release.ts).
  E_FRONTEND_RELEASE:
    | { problem: 'flags'; given: string[]; why: string }
    | { problem: 'unknown'; flag: string; release: string; where: string; known: string[] }
    | { problem: 'deleted'; flag: string; release: string; where: string; missing: string[]; count: number }
    | { problem: 'no-copy'; flag: string; release: string; where: string }
    | { problem: 'no-previous'; live: string | undefined; where: string };
}

export type ErrorCode = keyof ErrorDetails;

export interface CatalogueEntry<D = never> {
  exitCode: 1 | 2;
  title: string;
  message: (details: D) => string;
  fix: (details: D) => string | undefined;
  /** The lines shown under the message (GantryError.details); none when absent. */
  lines?: (details: D) => string[];
}

const isSaid = (d: object): d is Said => 'message' in d;

/** An entry whose sites still write their own text. */
const said = (exitCode: 1 | 2, title: string): CatalogueEntry<Said> => ({
  exitCode,
  title,
  message: (d) => d.message,
  fix: (d) => d.fix,
  lines: (d) => d.lines ?? [],
});

/** Said, or the catalogue's own text for the shapes it knows. */
function saidOr<D extends object>(exitCode: 1 | 2, title: string, own: Omit<CatalogueEntry<D>, 'exitCode' | 'title'>): CatalogueEntry<Said | D> {
  return {
    exitCode,
    title,
    message: (d) => (isSaid(d) ? d.message : own.message(d)),
    fix: (d) => (isSaid(d) ? d.fix : own.fix(d)),
    lines: (d) => (isSaid(d) ? (d.lines ?? []) : (own.lines?.(d) ?? [])),
  };
}

/** resource.group as kubectl --resource takes it ("deployments.apps"; core resources alone). */
function qualifiedResource(d: { resource: string; group: string }): string {
  return d.group ? `${d.resource}.${d.group}` : d.resource;
}

const MR_FLAG = 'run it in a merge request pipeline';
const PROJECT_FIX = 'GitLab CI sets it; outside CI export CI_PROJECT_ID=<numeric id or group/project path>';
const DIAGNOSIS_SHAPE = '{"code": string, "message": string, "evidence": string[]}';
const PATH_STYLE_HINT =
  '; if this endpoint is an OSS-compatible store that takes only path-style requests (<endpoint>/<bucket>/<key>), set frontend.pathStyle: true';
// A failed CDN refresh comes after a successful publish: say plainly that the files are live.
const cdnPublished = (published: string) =>
  `The files ARE published to ${published}; only the CDN cache refresh failed, so visitors may get the old HTML until the CDN cache expires`;
// A re-run finds nothing changed and refreshes nothing, so the URLs are for a refresh by hand.
const cdnRetry = (urls: string[]) =>
  `then refresh ${urls.length <= 3 ? urls.join(' ') : `the ${urls.length} URLs listed above`} in the CDN console (a re-run uploads nothing new, so it refreshes nothing)`;
const GITLAB_TOKEN_FIX = 'create a project access token (role Developer, scope api) and store it as the masked CI/CD variable GANTRY_GITLAB_TOKEN';

export const catalogue: { [C in ErrorCode]: CatalogueEntry<ErrorDetails[C]> } = {
  E_USAGE: {
    exitCode: 2,
    title: 'Bad command line',
    message: (d) => {
      if ('unknownCommand' in d) return `unknown command "${d.unknownCommand}"`;
      if ('parse' in d) return `gantry ${d.command}: ${d.parse}`;
      if ('missing' in d) return `gantry ${d.command}: --env is required`;
      switch (d.flag) {
        case 'status':
          return `gantry ${d.command}: --status ${d.value ?? '(missing)'}: one of ${d.allowed.join(', ')}`;
        case 'to':
          return `--to ${d.value}: a revision number (gantry history lists them)`;
        case 'replicas':
          return `--replicas ${d.value ?? '(missing)'}: a whole number from 0 to ${d.max} (backend.maxReplicas)`;
        case 'stop':
          return '--stop removes a merge request preview: use it with the review environment';
        case 'timeout':
          return `--timeout ${d.value}: whole seconds from ${d.min} to ${d.max}`;
        case 'mr':
          return `--mr ${d.value}: a merge request iid is a whole number from 1 to 2147483647`;
        case 'concurrency':
          return `--concurrency ${d.value}: a whole number from 1 to 64`;
        case 'port':
          return `--port ${d.value}: a port is a whole number from 1 to 65535`;
        case 'app':
          return `--app ${d.value}: not a DNS label`;
        case 'namespace':
          return `--namespace ${d.value}${d.filled === d.value ? '' : ` (filled: ${d.filled})`}: ${d.why}`;
        case 'env':
          return `gantry ${d.command} --env ${d.value}: stop removes merge request previews only`;
      }
    },
    fix: (d) => {
      if ('unknownCommand' in d) return `use one of: ${d.commands.join(', ')} (gantry --help)`;
      if ('usage' in d) return `usage: ${d.usage}`;
      switch (d.flag) {
        case 'to':
          return 'e.g. --to 3, or leave it out for the previous revision';
        case 'replicas':
          return `e.g. --replicas 2; raise backend.maxReplicas for more than ${d.max}`;
        case 'stop':
          return 'gantry frontend --stop --mr <iid>';
        case 'timeout':
          return `e.g. --timeout 300 (${d.default})`;
        case 'mr':
          return 'pass the MR number, e.g. --mr 42';
        case 'concurrency':
          return 'e.g. --concurrency 8';
        case 'port':
          return 'e.g. --port 3000';
        case 'app':
          return 'lowercase letters, digits and "-", starting with a letter, at most 63 characters, e.g. --app shop-api';
        case 'namespace':
          return `name the namespace the preview was deployed to (GANTRY_REVIEW_NAMESPACE / the namespace input), e.g. --namespace ${d.suggestion}`;
        case 'env':
          return 'use --env review (gantry rollback and scale are for the other environments)';
      }
    },
  },
  E_CONFIG_MISSING: {
    exitCode: 2,
    title: 'No gantry.yaml',
    message: (d) => `no ${d.candidates.join(' or ')} in ${d.cwd}`,
    fix: (d) =>
      d.explicit
        ? 'check the --config path or the GANTRY_CONFIG variable'
        : 'create gantry.yaml at the repository root (see "gantry.yaml reference" in the README), or pass --config <file>',
  },
  E_CONFIG_SYNTAX: {
    exitCode: 2,
    title: 'gantry.yaml is not valid YAML',
    message: (d) => `${d.label} is not valid YAML`,
    fix: () => 'correct the YAML syntax at the lines shown (indentation, a missing ":" or an unclosed quote)',
    lines: (d) => d.lines,
  },
  E_CONFIG_INVALID: saidOr(2, 'The configuration has problems', {
    message: (d: Exclude<ErrorDetails['E_CONFIG_INVALID'], Said>) =>
      'needs' in d
        ? `gantry ${d.command} needs ${d.needs} in gantry.yaml`
        : 'notMapping' in d
          ? `${d.label} must be a mapping of keys such as app, backend, environments`
          : `${d.label} has ${d.count} problem${d.count === 1 ? '' : 's'}; nothing was done`,
    fix: (d) =>
      'needs' in d
        ? `add ${d.needs === 'registry' ? 'registry: { pushHost, namespace }' : 'frontend: { dir, bucket, region }'} (see README "gantry.yaml reference")`
        : 'notMapping' in d
          ? 'start from the example in README.md (gantry.yaml reference)'
          : 'correct each problem listed above and run again',
    lines: (d) => ('problems' in d ? d.problems : []),
  }),
  E_CONFIG_FILE: {
    exitCode: 2,
    title: 'gantry.yaml cannot be read',
    message: (d) => {
      const named = d.via ? `${d.via} ${d.label}` : d.label;
      if (d.problem === 'directory') return `${named}: a directory, not a gantry.yaml file`;
      if (d.problem === 'not-regular') return `${named}: not a regular file (a device, pipe or socket)`;
      if ('size' in d) return `${named}: ${d.size} bytes or more; gantry.yaml may be at most 1 MiB (${d.limitBytes} bytes)`;
      return `${named}: cannot be read (${'reason' in d ? d.reason : d.problem})`;
    },
    fix: (d) =>
      d.problem === 'too-large'
        ? 'keep gantry.yaml small: large values belong in files of the image or in CI variables (a ConfigMap holds 1 MiB at most too)'
        : `point ${d.via ?? '--config'} at the gantry.yaml file itself`,
  },
  E_CONFIG_LIMIT: {
    exitCode: 2,
    title: 'gantry.yaml goes past a limit',
    message: (d) =>
      d.limit === 'depth'
        ? `${d.label}:${d.line}: nested more than ${d.max} levels deep`
        : `${d.label}: more than ${d.max} alias expansions (*name), as a YAML "billion laughs" bomb has`,
    fix: (d) =>
      d.limit === 'depth'
        ? `gantry.yaml needs a handful of levels; flatten the structure to at most ${d.max}`
        : `write the values out, or use aliases that expand to at most ${d.max} values in all`,
  },
  E_OUT_PATH: {
    exitCode: 2,
    title: 'The output directory cannot take the manifests',
    message: (d) => {
      if (d.problem === 'empty') return '--out is empty: it names the directory deploy.yaml and svc.yaml are written to';
      if (d.problem === 'not-directory') return `--out ${d.out}: ${d.dir} is not a directory`;
      if (d.problem === 'target-not-file') return `--out ${d.out}: ${d.target} is a directory or another non-file; nothing was written`;
      return `--out ${d.out}: cannot write into ${d.dir} (${d.reason ?? 'not writable'}); nothing was written`;
    },
    fix: (d) =>
      d.problem === 'target-not-file'
        ? `remove ${d.target} or choose another --out directory`
        : 'give --out a writable directory (it is created when missing), or leave it out for rendered/',
  },
  E_CWD: {
    exitCode: 2,
    title: 'The working directory is not a directory',
    message: (d) => `${d.flag} ${d.dir}: ${d.reason}`,
    fix: () => 'give -C the repository directory (the one with gantry.yaml)',
  },
  E_ENV_UNKNOWN: {
    exitCode: 2,
    title: 'No such environment in gantry.yaml',
    message: (d) => `--env ${d.envName}: no such environment in gantry.yaml`,
    fix: (d) => `use one of ${d.known.join(', ')}${d.offerToAdd ? `, or add environments.${d.envName}` : ''}`,
  },
  E_MR_MISSING: {
    exitCode: 2,
    title: 'No merge request: not in a merge request pipeline and no --mr',
    message: (d) => (d.needs === 'review' ? 'the review environment needs a merge request' : 'gantry stop needs the merge request'),
    fix: (d) => `${MR_FLAG}${d.saysWhereCiSetsIt ? ' (CI_MERGE_REQUEST_IID is set there)' : ''}, or pass --mr <iid>`,
  },
  E_MR_IID: {
    exitCode: 2,
    title: 'CI_MERGE_REQUEST_IID is not a merge request iid',
    message: (d) => `CI_MERGE_REQUEST_IID=${d.iid} is not a merge request iid`,
    fix: () => 'unset it, or pass --mr <iid>',
  },
  E_PROJECT_MISSING: {
    exitCode: 2,
    title: 'No GitLab project: CI_PROJECT_ID is not set',
    message: (d) => `no project: CI_PROJECT_ID${d.mergeRequestVariable ? ' (or CI_MERGE_REQUEST_PROJECT_ID)' : ''} is not set`,
    fix: () => PROJECT_FIX,
  },
  E_APP_MISSING: {
    exitCode: 2,
    title: 'The command does not know the app: no --app and no GANTRY_APP',
    message: (d) => `gantry ${d.command} does not know the app`,
    fix: (d) => `pass --app (the app of gantry.yaml${d.command === 'stop' ? '; the review component input "app"' : ''}), or set GANTRY_APP`,
  },
  E_IMAGE_REF: {
    exitCode: 2,
    title: 'Not an image reference',
    // JSON quoting shows a newline or control character as \n, not as a broken line.
    message: (d) => `${d.field}: ${JSON.stringify(d.text)} is not an image reference (${d.why})`,
    fix: () => 'use host/namespace/name:tag or host/namespace/name@sha256:<64 hex>, e.g. registry-vpc.cn-hangzhou.aliyuncs.com/acme/hello@sha256:...',
  },
  E_CI_SECRET_TOO_LARGE: {
    exitCode: 2,
    title: 'The K8S_SECRET_* CI variables exceed the 1 MiB a Kubernetes Secret holds',
    message: (d) => `the Secret ${d.name} made of the K8S_SECRET_* CI variables would hold ${d.bytes} bytes; Kubernetes allows at most ${d.limit} (1 MiB)`,
    fix: (d) =>
      `move large values out of K8S_SECRET_* variables (the largest: ${d.largest.map((l) => `${l.variable}, ${l.bytes} bytes`).join('; ')}), e.g. into a Secret of your own referenced with envFrom`,
  },
  E_IMAGE_MISSING: {
    exitCode: 2,
    title: 'No image to deploy: no --image and no registry in gantry.yaml',
    message: () => 'no image to deploy',
    fix: () => 'pass --image <ref> (the build job writes GANTRY_IMAGE), or set registry in gantry.yaml',
  },
  E_COMMIT_MISSING: {
    exitCode: 2,
    title: 'No commit to tag the image with',
    message: () => 'no commit to tag the image with',
    fix: (d) => `run inside a git repository or a CI job${d.canPassImage ? ', or pass --image <ref>' : ''}`,
  },
  E_GITLAB_URL_MISSING: {
    exitCode: 2,
    title: 'No GitLab instance: CI_SERVER_URL is not set',
    message: () => 'no GitLab instance: CI_SERVER_URL (or CI_API_V4_URL) is not set',
    fix: () => 'GitLab CI sets it; outside CI export CI_SERVER_URL=https://gitlab.example.com',
  },
  E_GITLAB_URL: {
    exitCode: 2,
    title: 'The GitLab instance URL is not an http(s) URL',
    message: (d) => (d.notHttp ? `${d.variable}=${d.value}: only http(s) URLs are GitLab instances` : `${d.variable}=${d.value} is not a URL`),
    fix: (d) => `e.g. ${d.variable}=https://gitlab.example.com${!d.notHttp && d.variable === 'CI_API_V4_URL' ? '/api/v4' : ''}`,
  },
  E_OSS_CREDENTIALS_MISSING: {
    exitCode: 2,
    title: 'No OSS key pair: GANTRY_OSS_ACCESS_KEY_ID / _SECRET are not set',
    message: (d) => `no OSS credentials to ${d.purpose} in ${d.bucket}`,
    fix: () => 'set the masked CI variables GANTRY_OSS_ACCESS_KEY_ID and GANTRY_OSS_ACCESS_KEY_SECRET (a RAM user of the bucket)',
  },
  E_CDN_KEY_PARTIAL: {
    exitCode: 2,
    title: 'Half a CDN key pair: only one of GANTRY_CDN_ACCESS_KEY_ID / _SECRET is set',
    message: (d) => `GANTRY_CDN_ACCESS_KEY_${d.missing} is missing: the CDN key pair is set only in part`,
    fix: () => 'set both GANTRY_CDN_ACCESS_KEY_ID and GANTRY_CDN_ACCESS_KEY_SECRET, or neither (then the OSS key pair is used)',
  },
  E_REGISTRY_CREDENTIALS_PARTIAL: {
    exitCode: 2,
    title: 'Half the registry credentials: only one of GANTRY_REGISTRY_USER / _PASSWORD is set',
    message: () => 'only one of GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD is set',
    fix: () => 'set both CI variables (masked), or neither for a registry without auth',
  },
  E_BUCKET_REGION_MISSING: {
    exitCode: 2,
    title: 'An OSS bucket without its region',
    message: (d) => `--bucket ${d.bucket} needs --region`,
    fix: () => 'pass --region (frontend.region of gantry.yaml, e.g. oss-cn-hangzhou)',
  },
  E_LEASE_SECONDS: {
    exitCode: 2,
    title: 'GANTRY_DEPLOY_LEASE_SECONDS is out of range',
    message: (d) => `GANTRY_DEPLOY_LEASE_SECONDS=${d.value}: whole seconds from 5 to 600`,
    fix: () => 'unset it for the default of 60',
  },
  E_SCALE_REPLICAS: {
    exitCode: 2,
    title: 'Replicas must be a whole number, at least 0',
    message: (d) => `scale deployment/${d.deployment}: replicas must be a whole number >= 0, not ${d.replicas}`,
    fix: () => 'pass a number such as 0 or 2',
  },
  E_SCALE_AUTOSCALED: {
    exitCode: 2,
    title: 'An autoscaled environment cannot be scaled by hand',
    message: (d) => `${d.envName} is autoscaled (${d.min}-${d.max} replicas): the HPA sets the replicas`,
    fix: () => 'change autoscale.min / autoscale.max in gantry.yaml and deploy',
  },
  E_ROLLBACK_NO_PREVIOUS: {
    exitCode: 2,
    title: 'No earlier revision to roll back to',
    message: (d) => `${d.deployment} in ${d.namespace} has no revision before ${d.current}`,
    fix: () => 'gantry history --env ... lists the revisions that are kept',
  },
  E_NAMESPACE_NOT_GANTRY: {
    exitCode: 2,
    title: 'The namespace was not created by Gantry: not deleting it',
    message: (d) => `namespace ${d.namespace} was not created by Gantry (no label ${d.label}=gantry): not deleting it`,
    fix: () => 'check --app / --namespace (the review component inputs app and namespace) against gantry.yaml',
  },
  E_DIAGNOSIS_FILE: {
    exitCode: 2,
    title: 'The --diagnosis-file cannot be read or is not a diagnosis',
    message: (d) =>
      'unreadable' in d
        ? `--diagnosis-file ${d.file}: ${d.unreadable}`
        : 'notJson' in d
          ? `--diagnosis-file ${d.file} is not JSON: ${d.notJson}`
          : `--diagnosis-file ${d.file}: expected ${DIAGNOSIS_SHAPE}`,
    fix: (d) => ('notJson' in d ? 'expected {"code": "...", "message": "...", "evidence": ["..."]}' : 'pass the JSON file the failed deploy wrote'),
  },
  E_INIT_PACKAGE_JSON: {
    exitCode: 2,
    title: 'gantry init cannot read package.json',
    message: (d) => `${d.path} is not valid JSON: ${d.reason}`,
    fix: () => 'correct package.json (npm pkg get name shows whether npm can read it)',
  },
  E_INIT_DIR_NOT_WRITABLE: {
    exitCode: 2,
    title: 'gantry init cannot write into the directory',
    message: (d) => `cannot write into ${d.dir}: ${d.reason}; nothing was written`,
    fix: () => 'check that the directory is writable',
  },
  E_INIT_PATH_BLOCKED: {
    exitCode: 2,
    title: 'gantry init finds a directory where a file goes',
    message: (d) => `cannot write ${d.blocked.join(', ')}: a directory is in the way; nothing was written`,
    fix: (d) => `move ${d.blocked.join(', ')} aside and run gantry init again`,
  }, // #14 services (lead)
  E_SERVICE_URL: {
    exitCode: 2,
    title: "A managed service's URL cannot be used",
    message: (d) => `the URL of service ${d.service} (${d.kind}) from ${d.where} cannot be used: ${d.problem}; nothing was done`,
    fix: (d) => `set ${d.where} to a ${d.kind} URL such as ${exampleUrl(d.kind)}`,
  },
  E_SERVICE_URL_MISSING: {
    exitCode: 2,
    title: "A managed service's CI variable is not set",
    message: (d) => `service ${d.service} is bound to the CI variable ${d.variable} in ${d.envName}, and it is not set; nothing was done`,
    fix: (d) =>
      `add ${d.variable} in GitLab (Settings > CI/CD > Variables, masked and protected, for the ${d.envName} environment) with the database's VPC URL`,
  },
  E_SERVICE_SECRET_MISSING: {
    exitCode: 2,
    title: "A managed service's Secret is missing",
    message: (d) =>
      d.problem === 'no-secret'
        ? `service ${d.service} is bound to Secret ${d.secret} in ${d.namespace}, which does not exist; nothing was applied`
        : `Secret ${d.secret} in ${d.namespace} has no key "${d.key}" for service ${d.service}; nothing was applied`,
    fix: (d) => `create it: kubectl -n ${d.namespace} create secret generic ${d.secret} --from-literal=${d.key}='<the database URL>'`,
  },
  E_SERVICE_SEED_FILE: {
    exitCode: 2,
    title: "A service's seed file cannot be used",
    message: (d) => `services.${d.service}.seed.file "${d.file}": ${d.problem}; nothing was done`,
    fix: () => 'point seed.file at a file in the repository (at most 1 MiB, compressed if need be), or use seed.command',
  },
  E_SERVICE_NOT_READY: {
    exitCode: 1,
    title: 'A service instance did not become ready',
    message: (d) => `service ${d.service} (${d.instance} in ${d.namespace}) was not ready within ${d.seconds} s: ${d.why}; the app was not changed`,
    fix: () => 'read the instance log above; check services.<name>.image (an ACR mirror the cluster can pull), its resources, and the seed; then push again',
    lines: (d) => d.lines,
  },

  E_TEMPLATE: {
    exitCode: 2,
    title: 'A manifest template failed',
    message: (d) => {
      switch (d.problem) {
        case 'render':
          return `${d.template}: ${d.reason}`;
        case 'yaml':
          return `${d.template} rendered invalid YAML`;
        case 'not-object':
          return `${d.where}: is not a Kubernetes object (a mapping)`;
        case 'no-kind':
          return `${d.where}: has no apiVersion or kind`;
        case 'no-name':
          return `${d.where}: ${d.objectKind} has no metadata.name`;
        case 'label':
          return `${d.where}: ${d.object} lacks the label ${d.label}: ${d.value}`;
        case 'limit':
          return `${d.where}: ${d.object} ${d.field} would be refused by Kubernetes: ${d.why}`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'render':
          return 'check the field names against the template data listed in README.md ("Templates")';
        case 'yaml':
          return 'write values with {{y value}} or {{json value}} so quoting and indentation are always right';
        case 'not-object':
          return 'each document must be one object with apiVersion, kind and metadata';
        case 'no-kind':
          return 'add apiVersion: and kind: to the object';
        case 'no-name':
          return 'add metadata.name';
        case 'label':
          return 'add "labels: {{json labels}}" to its metadata: history, rollback and preview cleanup find objects by these labels';
        case 'limit':
          return 'correct the value in gantry.yaml (or the template that writes it); nothing was applied';
      }
    },
    lines: (d) => (d.problem === 'render' ? (d.line ? [`${d.line.number} | ${d.line.text}`] : []) : d.problem === 'yaml' ? d.lines : []),
  },
  E_BUILD_NO_SOURCE: {
    exitCode: 2,
    title: 'Nothing to build an image from',
    message: (d) =>
      'badJson' in d
        ? `package.json in ${d.dir} is not valid JSON: ${d.badJson}`
        : d.problem === 'nothing'
          ? `no Dockerfile and no package.json in ${d.dir}`
          : `package.json in ${d.dir} says nothing about how to start the app`,
    fix: (d) =>
      'badJson' in d
        ? 'correct package.json'
        : d.problem === 'nothing'
          ? 'add a Dockerfile (backend.dockerfile names it), or build a Node app that has a package.json; backend.context sets the directory'
          : 'add a "start" (or "start:prod") script or a "main" entry to package.json, or add a Dockerfile',
  },
  E_DOCKER_UNAVAILABLE: {
    exitCode: 1,
    title: 'No Docker daemon answers',
    message: (d) => `no Docker daemon answers${d.dockerHost ? ` at DOCKER_HOST=${d.dockerHost}` : ''}`,
    fix: () =>
      'mount the runner\'s socket (/var/run/docker.sock) or add a docker:dind service and set DOCKER_HOST=tcp://docker:2375 (see README "Building images")',
    lines: (d) => d.output,
  },
  E_BUILD_FAILED: {
    exitCode: 1,
    title: 'The image build failed',
    message: (d) => `docker build failed (${d.dockerfile ?? 'generated Dockerfile'})`,
    fix: (d) =>
      d.dockerfile !== undefined
        ? 'fix the step shown above in your Dockerfile'
        : 'fix the step shown above, or run gantry build --print-dockerfile, commit it as Dockerfile and adjust it',
    lines: (d) => ['the failing step and its output:', ...d.step],
  },
  E_REGISTRY_AUTH: {
    exitCode: 1,
    title: 'The registry refused the credentials',
    message: (d) =>
      'output' in d ? `${d.host} refused the login of ${d.user}` : `${d.host} refused the credentials of ${d.user} (${d.answeredBy} answered ${d.status})`,
    fix: (d) =>
      `check the CI variables GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD (ACR: the registry login password${'output' in d ? '' : ' set under "Access Credential"'}, not the console password)`,
    lines: (d) => ('output' in d ? d.output : []),
  },
  E_REGISTRY_UNREACHABLE: {
    exitCode: 1,
    title: 'The registry cannot be reached',
    message: (d) => {
      switch (d.problem) {
        case 'login':
          return `${d.doing}: cannot reach ${d.host}`;
        case 'no-answer':
          return `GET ${d.get}: ${d.why}`;
        case 'not-registry':
          return `GET ${d.url} answered ${d.status}: not a Docker registry API`;
        case 'bad-realm':
          return `${d.host} names an unusable token realm "${d.realm}"`;
        case 'token-status':
          return `the token service ${d.tokenService} answered ${d.status}`;
        case 'no-token':
          return `the token service ${d.tokenService} answered without a token`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'login':
          return `check that ${d.host} is the host this runner can reach (inside the VPC use the -vpc host), and that it answers HTTPS`;
        case 'no-answer':
          return `check registry.pushHost (${d.host}) and that this runner can reach it over ${d.scheme}`;
        case 'token-status':
          return 'retry later; the registry is having trouble';
        default:
          return `check registry.pushHost (${d.host})`;
      }
    },
    lines: (d) => (d.problem === 'login' ? d.output : []),
  },
  E_PUSH_DENIED: {
    exitCode: 1,
    title: 'The registry refused the push',
    message: (d) => ('failed' in d ? `docker push ${d.image} failed` : `${d.host} refused the push of ${d.image}`),
    fix: (d) =>
      'failed' in d ? undefined : 'set GANTRY_REGISTRY_USER and GANTRY_REGISTRY_PASSWORD, and check that the namespace exists and the user may push to it',
    lines: (d) => d.output,
  },
  E_FRONTEND_BUILD_FAILED: {
    exitCode: 1,
    title: 'The frontend build failed',
    message: (d) => `"${d.command}" exited with ${d.exitCode}`,
    fix: () => 'fix the build (its output is above); it runs in the repository root',
    lines: (d) => d.output.map((l) => `  ${l}`),
  },
  E_FRONTEND_EMPTY: {
    exitCode: 1,
    title: 'Nothing to publish',
    message: (d) => `${d.dir} ${d.exists ? 'is empty' : 'does not exist'}: nothing to publish`,
    fix: () => 'check frontend.dir against where the build writes its output (e.g. dist)',
  },
  E_PREVIEW_ABSOLUTE_PATH: said(2, "The preview's build names its files from the site root"),
  E_OSS_ACCESS: {
    exitCode: 1,
    title: 'OSS refused the credentials',
    message: (d) =>
      d.problem === 'path-style'
        ? `${d.doing}: ${d.where} refused a path-style request (SecondLevelDomainForbidden)`
        : d.problem === 'refused'
          ? `${d.doing}: OSS refused access to ${d.where} (${d.reason})`
          : d.refused,
    fix: (d) =>
      d.problem === 'path-style'
        ? 'Aliyun OSS takes only virtual-hosted-style requests (<bucket>.<endpoint>): remove frontend.pathStyle, or set it to false'
        : d.problem === 'refused'
          ? `check the CI variables GANTRY_OSS_ACCESS_KEY_ID and GANTRY_OSS_ACCESS_KEY_SECRET, and that the RAM user may write to this bucket${d.pathStyleHint ? PATH_STYLE_HINT : ''}`
          : 'the RAM user needs oss:GetBucketWebsite and oss:PutBucketWebsite on the bucket (besides writing objects); check GANTRY_OSS_ACCESS_KEY_ID / _SECRET',
  },
  E_OSS_BUCKET: {
    exitCode: 1,
    title: 'The OSS bucket does not exist',
    message: (d) => `${d.doing}: bucket ${d.where} does not exist`,
    fix: (d) => `check frontend.bucket and frontend.region (the bucket lives in one region), or create the bucket${d.pathStyleHint ? PATH_STYLE_HINT : ''}`,
  },
  E_OSS_UNREACHABLE: {
    exitCode: 1,
    title: 'OSS cannot be reached',
    // A timeout's reason is noAnswerText (src/retry.ts): "no answer within 15 s (waited 31 s ...)".
    message: (d) => (String(d.reason).startsWith('no answer') ? `${d.doing}: ${d.where}: ${d.reason}` : `${d.doing}: ${d.where} did not answer (${d.reason})`),
    fix: () => 'check frontend.region / frontend.endpoint; inside the VPC use the -internal endpoint',
  },
  E_KUBECONFIG: said(2, 'The kubeconfig CI variable is missing or unusable'),
  E_KUBE_UNREACHABLE: {
    exitCode: 1,
    title: 'The Kubernetes API server cannot be reached',
    message: (d) =>
      d.tls
        ? `${d.doing}: the TLS connection to ${d.server} failed: ${d.reason}`
        : d.waited
          ? `${d.doing}: cannot reach the Kubernetes API server at ${d.server}: ${d.waited}`
          : `${d.doing}: cannot reach the Kubernetes API server at ${d.server} (${d.code === 'TIMEOUT' ? 'timed out' : d.code})`,
    fix: (d) =>
      d.tls
        ? "the kubeconfig's certificate-authority-data does not match the API server's certificate, or the server address is not the one the certificate names: download a fresh kubeconfig for the cluster"
        : `check the kubeconfig's server address, and that the runner can reach it (ACK: use the cluster's public API endpoint, or run the job on a runner inside the VPC)${'waited' in d && d.waited ? '; a server that accepts connections and never answers is usually a proxy or firewall in between (GANTRY_CONNECT_TIMEOUT and GANTRY_REQUEST_TIMEOUT set how long Gantry waits)' : ''}`,
    lines: (d) => (d.tls ? [] : [d.reason]),
  },
  E_KUBE_UNAUTHORIZED: {
    exitCode: 1,
    title: 'The Kubernetes API server rejected the credentials',
    message: (d) => `${d.doing}: the API server did not accept the credentials (401 ${d.answer})`,
    fix: () => "the kubeconfig's token or client certificate is wrong or expired: create a new one for the deployer and update the CI variable",
  },
  E_KUBE_FORBIDDEN: {
    exitCode: 1,
    title: 'The Kubernetes credentials lack a permission',
    message: (d) => {
      switch (d.problem) {
        case 'unparsed':
          return `${d.doing}: forbidden: ${d.answer}`;
        case 'rbac':
          return `${d.doing}: ${d.user} may not ${d.verb} ${qualifiedResource(d)} ${d.namespace ? `in namespace ${d.namespace}` : 'cluster-wide'}`;
        case 'create-namespace':
          return `namespace ${d.namespace} does not exist, and the kubeconfig's user may not create it`;
        case 'namespace-access':
          return `namespace ${d.namespace}: the kubeconfig's user may neither read it nor work in it (it may not exist)`;
        case 'list-namespaces':
          return `list namespaces: ${d.refused.message}`;
        case 'read-preview-namespace':
          return `cannot read namespace ${d.namespace}, so cannot check it is a preview Gantry made: not deleting it`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'unparsed':
          return "give the kubeconfig's user the RBAC permission this step needs (a Role and RoleBinding in the target namespace)";
        case 'rbac': {
          const sa = /^system:serviceaccount:([^:]+):(.+)$/.exec(d.user);
          const subject = sa ? `--serviceaccount=${sa[1]}:${sa[2]}` : `--user=${d.user}`;
          const qualified = qualifiedResource(d);
          return d.namespace
            ? `allow it with a Role in ${d.namespace}, e.g. kubectl -n ${d.namespace} create role gantry-deployer --verb=${d.verb} --resource=${qualified} && kubectl -n ${d.namespace} create rolebinding gantry-deployer --role=gantry-deployer ${subject} (or add the rule to the Role it already has)`
            : `${d.resource} are cluster-scoped, so this needs a ClusterRole: kubectl create clusterrole gantry-${d.verb}-${d.resource} --verb=${d.verb} --resource=${qualified} && kubectl create clusterrolebinding gantry-${d.verb}-${d.resource} --clusterrole=gantry-${d.verb}-${d.resource} ${subject}; or have an admin do this step`;
        }
        case 'create-namespace':
          return `create it once as a cluster admin (kubectl create namespace ${d.namespace}) and give the deployer a Role in it, or allow it to create namespaces: ${d.refused.fix ?? ''}`;
        case 'namespace-access':
          return `check the environment's namespace in gantry.yaml; if it is right, create it as a cluster admin (kubectl create namespace ${d.namespace}) and give the deployer a Role and RoleBinding in it. ${d.refused.fix ?? ''}`.trim();
        case 'list-namespaces':
          return `the kubeconfig in ${d.variable} must be allowed to list namespaces (a ClusterRole with get/list/delete on namespaces), as the review deployer that creates them`;
        case 'read-preview-namespace':
          return `the kubeconfig in ${d.variable} must be allowed to get, list and delete namespaces (examples/rbac/review-deployer.yaml)`;
      }
    },
    lines: (d) => {
      switch (d.problem) {
        case 'rbac':
          return [d.answer];
        case 'create-namespace':
          return [d.refused.message];
        case 'namespace-access':
          return [d.cannotRead, d.refused.message];
        case 'list-namespaces':
          return d.refused.details;
        case 'read-preview-namespace':
          return [d.refused];
        default:
          return [];
      }
    },
  },
  E_KUBE_NOT_FOUND: saidOr(1, 'A Kubernetes object does not exist', {
    message: (d: Exclude<ErrorDetails['E_KUBE_NOT_FOUND'], Said>) => {
      switch (d.problem) {
        case 'status':
          return `${d.doing}: ${d.answer}`;
        case 'track':
          return `track ${d.what}: the Deployment does not exist`;
        case 'scale':
          return `scale deployment/${d.deployment}: it does not exist in namespace ${d.namespace}`;
        case 'history':
          return `deployment/${d.deployment} does not exist in namespace ${d.namespace}`;
        case 'namespace':
          return `namespace ${d.namespace} does not exist, and the kubeconfig's user may not create it`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'track':
          return 'apply the manifests before tracking, and check the Deployment name and namespace';
        case 'scale':
          return 'check the app name and environment; deploy it first';
        case 'history':
          return 'check the app name and environment (namespace); a first deploy has no history to list or roll back to';
        case 'namespace':
          return `create it once as a cluster admin (kubectl create namespace ${d.namespace}) and give the deployer a Role in it`;
        case 'status':
          return undefined;
      }
    },
    lines: (d) => (d.problem === 'namespace' ? [d.cannotRead] : []),
  }),
  E_KUBE_API: saidOr(1, 'The Kubernetes API server refused a request', {
    message: (d: Exclude<ErrorDetails['E_KUBE_API'], Said>) => {
      switch (d.problem) {
        case 'not-served':
          return `${d.doing}: the cluster does not serve ${d.groupVersion} (no ${d.kind} there)`;
        case 'status':
          return `${d.doing}: ${d.answer}`;
        case 'other':
          return `${d.doing}: ${d.reason}`;
        case 'exec-plugin':
          return `${d.doing}: the kubeconfig's exec plugin ${d.command} failed: ${d.said}`;
        case 'namespace-terminating':
          return `namespace ${d.namespace} is being deleted`;
        case 'namespace-still-terminating':
          return `namespace ${d.namespace} is still terminating after ${d.seconds} s`;
        case 'rollback-stalled':
          return `roll back deployment/${d.deployment}: the deployment controller has not picked up the change after 30 s`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'not-served':
          return 'check the apiVersion; `kubectl api-versions` lists what the cluster serves';
        case 'exec-plugin':
          return `run the plugin as the kubeconfig's users[].user.exec names it (${d.command} with its args and env) on the runner to see why: it must be installed in the job's image and print an ExecCredential; or use a kubeconfig with a ServiceAccount token`;
        case 'namespace-terminating':
          return 'wait until the deletion has finished (kubectl get namespace shows it gone), then deploy again';
        case 'namespace-still-terminating':
          return 'usually a finalizer of an object in it; run the stop job again once it is resolved, or raise --timeout';
        case 'rollback-stalled':
          return 'check that kube-controller-manager is running (kubectl get events); the rollback is applied and will proceed when it does';
        default:
          return undefined;
      }
    },
    lines: (d) => {
      if (d.problem === 'status') return [`HTTP ${d.status}${d.reason ? ` ${d.reason}` : ''}`];
      if (d.problem === 'namespace-still-terminating')
        return [`kubectl get namespace ${d.namespace} -o yaml shows what holds it (status.conditions, finalizers)`];
      return [];
    },
  }),
  E_APPLY_INVALID: {
    exitCode: 2,
    title: 'The API server rejected the manifests',
    message: (d) => `the API server rejected ${d.refused.length} of ${d.total} objects; nothing was applied`,
    fix: () =>
      'correct the manifests (your deploy/*.hbs templates, or the gantry.yaml values they use); the rendered files are kept as job artifacts, and `kubectl apply --server-side --dry-run=server -f <file>` shows the same errors',
    lines: (d) => d.refused,
  },
  E_ROLLBACK_REVISION: {
    exitCode: 2,
    title: 'No such revision to roll back to',
    message: (d) => `deployment/${d.deployment} has no revision ${d.revision}`,
    fix: () => 'pick one of the listed revisions (`gantry history --env <name>` shows them with their commits)',
    lines: (d) => [`revisions kept: ${d.kept.join(', ') || '(none)'} (spec.revisionHistoryLimit old ones are kept)`],
  },
  E_DEPLOY_LOCKED: {
    exitCode: 1,
    title: 'Another deploy holds the environment',
    message: (d) =>
      'lostTo' in d
        ? `lost the deploy ${d.where}: ${d.lostTo} holds it now`
        : 'notRenewedFor' in d
          ? `lost the deploy ${d.where}: not renewed for ${d.notRenewedFor} s`
          : `gave up waiting for the deploy ${d.where} after ${d.gaveUpAfter} s`,
    fix: (d) =>
      'lostTo' in d
        ? 'another deploy took over the environment while this one ran (this one could not renew in time); run this deploy again once that one has finished'
        : 'notRenewedFor' in d
          ? 'the API server was unreachable for longer than the lease TTL; run the deploy again'
          : 'wait for the other deploy to finish and retry the job; if no deploy is running, the lease expires by itself within its TTL',
    lines: (d) => ('heldBy' in d && d.heldBy !== undefined ? [`held by ${d.heldBy}`] : []),
  },
  E_OSS_WEBSITE: {
    exitCode: 1,
    title: 'OSS refused the bucket website configuration',
    message: (d) => `${d.doing}: OSS refused it (${d.reason})`,
    fix: () => 'check frontend.website in gantry.yaml (index is a file name without "/", notFound an object in the bucket)',
    lines: (d) => [d.answer],
  },
  E_CDN_ACCESS: {
    exitCode: 1,
    title: 'The CDN refused the credentials (the files are published)',
    message: (d) => `${cdnPublished(d.published)}: the CDN refused the credentials (${d.code})`,
    fix: (d) =>
      `check GANTRY_CDN_ACCESS_KEY_ID / GANTRY_CDN_ACCESS_KEY_SECRET (when unset, the OSS key pair is used) and that the RAM user has cdn:RefreshObjectCaches on the domain; ${cdnRetry(d.urls)}`,
    lines: (d) => [d.answer],
  },
  E_CDN_REFRESH: {
    exitCode: 1,
    title: 'The CDN cache refresh failed (the files are published)',
    message: (d) =>
      d.problem === 'quota'
        ? `${cdnPublished(d.published)}: the refresh quota is used up (${d.code})`
        : d.problem === 'refused'
          ? `${cdnPublished(d.published)} (${d.code})`
          : `${cdnPublished(d.published)}: the CDN API did not answer (${d.reason})`,
    fix: (d) =>
      d.problem === 'quota'
        ? `wait for the quota (10,000 URLs a day by default) or ask Aliyun for more; ${cdnRetry(d.urls)}`
        : d.problem === 'refused'
          ? `check frontend.cdn.domain and frontend.cdn.endpoint; ${cdnRetry(d.urls)}`
          : `check frontend.cdn.endpoint (default ${d.endpoint}) and the network; ${cdnRetry(d.urls)}`,
    lines: (d) => (d.problem === 'no-answer' ? [] : [d.answer]),
  },
  E_ROLLOUT_IMAGE_PULL: said(1, 'The cluster cannot pull the image'),
  E_ROLLOUT_CRASHLOOP: said(1, 'A container keeps crashing'),
  E_ROLLOUT_OOM: said(1, 'A container was killed for using more memory than its limit'),
  E_ROLLOUT_CONFIG: said(1, 'A container references a missing ConfigMap, Secret or key'),
  E_ROLLOUT_CREATE: said(1, 'The container runtime cannot create or start the container'),
  E_ROLLOUT_UNSCHEDULABLE: said(1, 'No node can run the pod'),
  E_ROLLOUT_ECI: said(1, 'Elastic Container Instance could not create the pod'),
  E_ROLLOUT_READINESS: said(1, 'The readiness probe keeps failing'),
  E_ROLLOUT_REPLICA_FAILURE: said(1, 'The ReplicaSet cannot create pods'),
  E_ROLLOUT_DEADLINE: said(1, 'The Deployment exceeded its progress deadline'),
  E_ROLLOUT_TIMEOUT: said(1, 'The rollout did not finish in time'),
  E_ROLLOUT_DELETED: said(1, 'The Deployment was deleted during the rollout'),
  E_ROLLOUT_ABORTED: said(1, 'Tracking the rollout was cancelled'),
  E_INTERNAL: saidOr(1, 'Unexpected error', {
    message: (d: { doing: string; reason: string }) => `${d.doing}: ${d.reason}`,
    fix: () => undefined,
  }),
  E_TIMEOUT_VARIABLE: {
    exitCode: 2,
    title: 'A deadline variable is not a number of seconds',
    message: (d) => `${d.variable} is ${JSON.stringify(d.value)}: expected whole seconds from ${d.min} to ${d.max}; nothing was done`,
    fix: (d) => `set ${d.variable} to whole seconds from ${d.min} to ${d.max}, or unset it for the default (see README "Cancelling and deadlines")`,
  },
  E_STEP_TIMEOUT: {
    exitCode: 1,
    title: 'The step ran out of time',
    message: (d) => `gantry ${d.command} did not finish within ${d.seconds} s (${d.variable}); it was stopped and cleaned up`,
    fix: (d) => `the messages above show what it was waiting for; if the step needs longer, raise ${d.variable} (whole seconds)`,
  },
  E_GITLAB_TOKEN: {
    exitCode: 2,
    title: 'No GitLab API token',
    message: (d) =>
      'command' in d
        ? `gantry ${d.command} needs GANTRY_GITLAB_TOKEN to ask GitLab which merge requests are merged or closed`
        : d.acceptsJobToken
          ? 'no GitLab token: neither GANTRY_GITLAB_TOKEN nor CI_JOB_TOKEN is set'
          : 'GANTRY_GITLAB_TOKEN is not set',
    fix: () => GITLAB_TOKEN_FIX,
    lines: (d) =>
      'command' in d
        ? ['CI_JOB_TOKEN cannot read merge requests, so the scheduled job cannot tell an open preview from a stale one without it']
        : d.acceptsJobToken
          ? ['merge request notes need GANTRY_GITLAB_TOKEN: GitLab does not let CI_JOB_TOKEN read merge requests or write notes']
          : [],
  },
  E_GITLAB_ACCESS: {
    exitCode: 1,
    title: 'GitLab refused the token',
    message: (d) =>
      'doing' in d
        ? `${d.doing}: GitLab answered ${d.status} ${d.status === 401 ? 'Unauthorized' : 'Forbidden'} for ${d.tokenVariable}`
        : d.status === 401
          ? `${d.checked}: GitLab answered 401 Unauthorized for GANTRY_GITLAB_TOKEN`
          : `${d.checked}: GitLab answered ${d.status} for GANTRY_GITLAB_TOKEN`,
    fix: (d) =>
      'doing' in d
        ? d.jobToken
          ? 'CI_JOB_TOKEN cannot read merge requests or write notes; set GANTRY_GITLAB_TOKEN to a project access token (role Developer, scope api)'
          : 'check that GANTRY_GITLAB_TOKEN is not expired or revoked, has the api scope and at least the Developer role in the project'
        : d.status === 401
          ? 'the token is wrong, expired or revoked: create a new project access token (role Developer, scope api) and update GANTRY_GITLAB_TOKEN'
          : `give the token at least the Developer role and the api scope in project ${d.project ?? '(CI_PROJECT_ID)'}`,
    lines: (d) => ('doing' in d ? [`${d.host}: ${d.answer}`] : []),
  },
  E_GITLAB_UNREACHABLE: {
    exitCode: 1,
    title: 'The GitLab API cannot be reached',
    message: (d) => ('checked' in d ? `${d.checked} at ${d.host}: ${d.why}` : `${d.doing}: ${d.reason}${d.causeCode ? ` (${d.causeCode})` : ''}`),
    fix: (d) =>
      'checked' in d
        ? 'check CI_SERVER_URL (or GANTRY_GITLAB_URL) and that this runner can reach GitLab'
        : 'check CI_SERVER_URL and that the runner can reach it; retry the job if GitLab was down',
    lines: (d) => ('checked' in d ? [] : [`instance: ${d.host}`]),
  },
  E_GITLAB_API: {
    exitCode: 1,
    title: 'The GitLab API refused a request',
    message: (d) =>
      'checked' in d
        ? `${d.checked}: GitLab answered ${d.status}`
        : 'retriesExhausted' in d
          ? `${d.doing}: GitLab kept answering 429 (rate limit) or 502: ${d.retriesExhausted}`
          : `${d.doing}: GitLab answered ${d.status}: ${d.answer}`,
    fix: (d) =>
      'checked' in d
        ? 'retry later; GitLab is having trouble'
        : 'retriesExhausted' in d
          ? 'GitLab is overloaded or rate-limiting this token; retry the job later'
          : d.status === 404
            ? 'check CI_PROJECT_ID and the merge request iid; GitLab also answers 404 for projects the token cannot see'
            : 'see the message above; retry the job if GitLab was having trouble',
    lines: (d) => ('checked' in d ? [] : [`instance: ${d.host}`]),
  },
  E_INIT_NO_PACKAGE: {
    exitCode: 2,
    title: 'gantry init found no package.json',
    message: (d) => `no package.json in ${d.dir}: gantry init sets up a Node.js repository`,
    fix: () => 'run it at the root of the Node app (or pass -C <dir>); a new app starts with npm init -y',
  },
  E_INIT_EXISTS: {
    exitCode: 2,
    title: 'gantry init would overwrite a file',
    message: (d) => `${d.existing.join(', ')} already exist${d.existing.length === 1 ? 's' : ''} in ${d.dir}; nothing was written`,
    fix: () => 'move them aside, or pass --force to overwrite them',
  },
  E_INIT_WRITE: {
    exitCode: 1,
    title: 'gantry init could not write all its files',
    message: (d) => `writing into ${d.dir} failed after ${d.written.length} of ${d.total} files: ${d.reason}`,
    fix: () => 'check the directory, then run gantry init --force to write every file again',
    lines: (d) => (d.written.length > 0 ? [`written: ${d.written.join(', ')}`] : []),
  },
  // #14 jobs
  E_MIGRATION_FAILED: jobFailed('migration', 'The migration Job failed'),
  E_MIGRATION_TIMEOUT: jobTimedOut('migration', 'The migration Job did not finish in time'),
  E_SEED_FAILED: jobFailed('seed', 'The seed Job failed'),
  E_SEED_TIMEOUT: jobTimedOut('seed', 'The seed Job did not finish in time'),
  // #14 reach
  E_SERVICE_UNREACHABLE: {
    exitCode: 1,
    title: 'A service does not answer from the namespace',
    message: (d) => {
      const [first] = d.failures;
      if (d.failures.length === 1 && first)
        return `service ${first.service} at ${serviceWhere(first)} cannot be reached from the pods: ${serviceWhy(first, d.connectSeconds)}`;
      return `${d.failures.length} of ${d.total} service connections fail from the pods: ${d.failures.map((f) => `${f.service} at ${serviceWhere(f)} (${serviceWhy(f, d.connectSeconds)})`).join('; ')}`;
    },
    fix: (d) => [...new Set(d.failures.map((f) => serviceFix(f, d)))].join('; '),
    lines: (d) => [
      ...(d.failures.length > 1
        ? d.failures.map((f) => `${f.service}: ${serviceWhere(f)}${f.variable ? ` (from ${f.variable})` : ''}: ${serviceWhy(f, d.connectSeconds)}`)
        : []),
      ...(d.failures.length === 1 && d.failures[0]?.variable ? [`${d.failures[0].service}'s address comes from ${d.failures[0].variable}`] : []),
      `the check pod's IP: ${d.podIP || '(unknown)'}; the pods' CIDR as seen by the check: ${podCidrText(d)}`,
    ],
  },
  E_SERVICE_CHECK_TIMEOUT: {
    exitCode: 1,
    title: 'The service reachability check did not finish in time',
    message: (d) => `the service reachability check pod ${d.pod} in namespace ${d.namespace} did not finish within ${d.seconds} s (${d.state})`,
    fix: (d) =>
      d.running
        ? "the check started but did not finish: something in the app's env holds node up (NODE_OPTIONS with --require or --import), or host name lookups hang (the cluster's DNS); its log above may say which"
        : "it was waiting for its image (the app image's first pull on this node) or for a node (ECI creation, autoscaling): the events above show which; the rollout would wait for the same, so fix that, or run the deploy again once the image is on the node",
    lines: (d) => d.lines,
  },
  E_SERVICE_CHECK_FAILED: {
    exitCode: 1,
    title: 'The service reachability check could not run',
    message: (d) =>
      d.problem === 'gone'
        ? `the service reachability check pod ${d.pod} in namespace ${d.namespace} was deleted before it reported`
        : `the service reachability check pod ${d.pod} in namespace ${d.namespace} ended without a result: ${d.ended}`,
    fix: (d) =>
      d.problem === 'gone'
        ? 'something else deletes pods in the namespace (a cleanup job, another run): run the deploy again'
        : d.noNode
          ? 'the check runs `node -e <script>` in the app image, so the image must have node on its PATH (a distroless image keeps it at /nodejs/bin/node: put that directory on PATH)'
          : "the check script stopped before it printed its result: its log above says why (NODE_OPTIONS in the app's env can keep node from starting)",
    lines: (d) => (d.problem === 'no-result' ? (d.log.length ? ['log of the check:', ...d.log.map((l) => `| ${l}`)] : ['the check wrote no log']) : []),
  },
  // #15 canary (lead)
  E_CANARY_ABORTED: {
    exitCode: 1,
    title: 'The canary was aborted',
    message: (d) =>
      `the canary of ${d.deployment} in ${d.namespace} was aborted at step ${d.step}/${d.steps} (${d.weight}% of the traffic) by ${d.check === 'built-in' ? 'the built-in checks' : `the analysis ${d.check}`}: ${d.reason}; the canary was taken back in ${d.abortSeconds} s and the stable version kept serving`,
    fix: (d) =>
      d.check === 'built-in'
        ? 'read the canary log above, fix the new version, then push again'
        : `the new version breaks the threshold of ${d.check} (its values over time are above): fix the version, or the query or threshold in environments.<env>.rollout.analysis, then push again`,
    lines: (d) => d.lines,
  },
  E_CANARY_NONE: {
    exitCode: 2,
    title: 'There is no canary to promote or abort',
    message: (d) => `gantry ${d.command}: ${d.deployment}-canary does not exist in ${d.namespace}`,
    fix: () => 'a canary is held only by a step with pause: manual; gantry history --env ... shows what runs',
  },
  E_CANARY_MISMATCH: {
    exitCode: 2,
    title: 'The held canary is another version than this job would promote',
    message: (d) => `the canary of ${d.deployment} in ${d.namespace} runs template ${d.running}, this job renders ${d.rendered}`,
    fix: () => 'promote from the pipeline that made the canary (same commit, same GANTRY_IMAGE), or gantry abort it and deploy this version',
  },
  E_PROMETHEUS: {
    exitCode: 1,
    title: 'Prometheus did not answer',
    message: (d) => `Prometheus at ${d.host}: ${d.reason}`,
    fix: () => 'check the URL in the CI variable (ARMS: the HTTP API URL of the instance, reachable from the runner) and the token',
  },
  E_PROMETHEUS_MISSING: {
    exitCode: 2,
    title: 'The canary analysis has queries but no Prometheus URL',
    message: (d) =>
      `environments.${d.envName}.rollout.analysis has queries (${d.queries.join(', ')}) but the CI variable ${d.variable} is not set; nothing was applied`,
    fix: (d) => `set ${d.variable} to the Prometheus HTTP API base URL (ARMS: the instance's HTTP API address), or remove the queries`,
  },
  E_ANALYSIS_QUERY: {
    exitCode: 2,
    title: 'An analysis query was refused by Prometheus',
    message: (d) => `environments.${d.envName}.rollout.analysis.queries ${d.name}: ${d.reason}; nothing was applied`,
    fix: (d) =>
      d.unauthorized
        ? `check the token CI variable (rollout.analysis.tokenVariable) and rollout.analysis.auth: bearer, token (ARMS V1) or basic (ARMS V2: AccessKeyID:Secret)`
        : 'fix the PromQL (try it in the Prometheus UI with the {{...}} variables filled in); an instant query must give a vector or a scalar',
    lines: (d) => [`query: ${d.query}`],
  },
  E_CANARY_KRUISE: {
    exitCode: 2,
    title: 'traffic: kruise is rendered, not deployed by Gantry yet',
    message: (d) =>
      `environments.${d.envName}.rollout.traffic is kruise: Gantry renders the Kruise Rollout (gantry render) but does not drive one yet; nothing was applied`,
    fix: (d) =>
      `use environments.${d.envName}.rollout.traffic: replicas (no controller needed), nginx or alb; or apply the rendered Rollout yourself with the Kruise Rollout controller installed`,
  },
  // #15 traffic
  E_CANARY_NO_INGRESS: {
    exitCode: 2,
    title: 'Ingress canary traffic needs an Ingress',
    message: (d) =>
      `environments.${d.envName}.rollout.traffic is ${d.traffic}, but ${d.envName} has no Ingress (environments.${d.envName}.domain is not set); nothing was done`,
    fix: (d) =>
      `set environments.${d.envName}.domain (the canary Ingress takes its host), or use environments.${d.envName}.rollout.traffic: replicas (the weight set by replica counts behind the Service)`,
  },
  E_CANARY_INGRESS_CLASS: {
    exitCode: 2,
    title: 'The canary traffic mode does not match the Ingress class',
    message: (d) =>
      `environments.${d.envName}.rollout.traffic is ${d.traffic}, but environments.${d.envName}.ingress.className is ${d.className}: that controller would not read the ${d.traffic === 'alb' ? 'alb.ingress.kubernetes.io' : 'nginx.ingress.kubernetes.io'} canary annotations; nothing was done`,
    fix: (d) =>
      `set environments.${d.envName}.ingress.className: ${d.traffic === 'alb' ? 'alb (the ALB Ingress controller)' : 'nginx (ingress-nginx)'}, or rollout.traffic: ${d.traffic === 'alb' ? 'nginx' : 'alb'} to match the class`,
  },
  E_CANARY_TEMPLATE: {
    exitCode: 2,
    title: 'The rendered objects lack what a canary needs',
    message: (d) => `${d.object}: ${d.problem}; nothing was done`,
    fix: (d) => d.fix,
  },
  // #15 frontend releases
  E_FRONTEND_RELEASE: {
    exitCode: 2,
    title: 'That frontend release cannot be made live',
    message: (d) => {
      switch (d.problem) {
        case 'flags':
          return `gantry frontend ${d.given.join(' ')}: ${d.why}`;
        case 'unknown':
          return `${d.flag} ${d.release}: no such release under ${d.where}`;
        case 'deleted':
          return `${d.flag} ${d.release}: retention already deleted ${d.count} of its files under ${d.where} (${d.missing.slice(0, 3).join(', ')}${d.count > 3 ? ', ...' : ''})`;
        case 'no-copy':
          return `${d.flag} ${d.release}: there is no copy of its HTML under ${d.where}.gantry/html/ to make live (it was recorded before Gantry kept each release's HTML, or retention deleted it)`;
        case 'no-previous':
          return `--rollback: no release before ${d.live ?? 'the live one'} under ${d.where} that was ever live`;
      }
    },
    fix: (d) => {
      switch (d.problem) {
        case 'flags':
          return 'use one of --stage, --activate <release>, --rollback [--to <release>] (or none, to publish); --to goes with --rollback, and none of them with --stop';
        case 'unknown':
          return `name a release id (the record name without .json.gz)${d.known.length ? `; the newest are: ${d.known.join(', ')}` : ''}`;
        case 'deleted':
          return `name a newer release with ${d.flag === '--to' ? '--to' : d.flag}, or publish that commit again (its pipeline's frontend job); raise frontend.retention to keep more releases`;
        case 'no-copy':
          return `name a release published since (${d.flag === '--to' ? '--to' : d.flag} <release>), or publish that commit again`;
        case 'no-previous':
          return 'name the release to go back to with --rollback --to <release>, or publish the one you want';
      }
    },
    lines: (d) => (d.problem === 'deleted' ? d.missing.slice(0, 20).map((k) => `missing: ${k}`) : []),
  },
};

function exampleUrl(kind: string): string {
  return (
    (
      {
        mysql: 'mysql://user:pass@rm-xxx.mysql.rds.aliyuncs.com:3306/app',
        postgresql: 'postgresql://user:pass@pgm-xxx.pg.rds.aliyuncs.com:5432/app',
        mongodb: 'mongodb://user:pass@dds-xxx.mongodb.rds.aliyuncs.com:3717/app?authSource=admin',
        redis: 'redis://:pass@r-xxx.redis.rds.aliyuncs.com:6379/0',
      } as Record<string, string>
    )[kind] ?? `${kind}://user:pass@host:port/db`
  );
}

// #14 jobs: one text for both purposes. Nothing is applied before the migration and the seed,
// so every failure leaves the running version as it was: the fix says so.
function jobFailed(purpose: 'migration' | 'seed', title: string): CatalogueEntry<ErrorDetails['E_MIGRATION_FAILED']> {
  const unchanged = purpose === 'migration' ? 'the running version was not changed' : 'the app was not deployed and the running version was not changed';
  const again =
    purpose === 'migration'
      ? 'fix the migration and push again'
      : 'fix the seed command and deploy again (no seed has succeeded for this instance, so the next deploy runs it again: make it safe to re-run)';
  return {
    exitCode: 1,
    title,
    message: (d) =>
      d.problem === 'exited'
        ? `${purpose} Job ${d.job} failed: ${d.termination}`
        : d.problem === 'cannot-start'
          ? `${purpose} Job ${d.job} could not start (${d.cause}): ${d.said}`
          : d.problem === 'cannot-create'
            ? `${purpose} Job ${d.job} cannot create its pod: ${d.said}`
            : `${purpose} Job ${d.job} was deleted before it finished`,
    fix: (d) =>
      d.problem === 'exited'
        ? d.oom
          ? `the ${purpose} ran out of memory${d.memoryLimit ? ` (limit ${d.memoryLimit})` : ''}: raise resources.limits.memory or make it use less (for Node: NODE_OPTIONS=--max-old-space-size); ${unchanged}`
          : `${again}; ${unchanged}`
        : d.problem === 'cannot-start'
          ? `${d.fix}; ${unchanged}`
          : d.problem === 'cannot-create'
            ? `the namespace's ResourceQuota, LimitRange or an admission policy refuses the pod: the message above names the rule; ${unchanged}`
            : `something else deleted the Job (another deploy, a cleanup): deploy again; ${unchanged}`,
    lines: (d) => [
      `Job ${d.job} in namespace ${d.namespace}${d.problem === 'exited' && d.kept ? ` (kept for inspection: kubectl -n ${d.namespace} logs job/${d.job})` : ''}`,
      ...(d.problem === 'exited' || d.problem === 'cannot-start' ? d.evidence : []),
      ...(d.problem === 'exited' ? logLines(d.log) : []),
    ],
  };
}

function jobTimedOut(purpose: 'migration' | 'seed', title: string): CatalogueEntry<ErrorDetails['E_MIGRATION_TIMEOUT']> {
  return {
    exitCode: 1,
    title,
    message: (d) => `${purpose} Job ${d.job} did not finish within ${d.seconds} s (${d.setting})${d.deleted ? '; it was stopped and deleted' : ''}`,
    fix: (d) =>
      `the log above shows where it stopped: a ${purpose} that waits for a lock another session holds, or for a database it cannot reach, hangs; check that the database answers from the namespace (gantry doctor), or raise ${d.setting} if it is only slow; the running version was not changed`,
    lines: (d) => [`Job ${d.job} in namespace ${d.namespace}`, ...d.evidence, ...logLines(d.log)],
  };
}

function logLines(log: string[]): string[] {
  return log.length
    ? [log.length === 1 ? 'the last line of its log:' : `last ${log.length} lines of its log:`, ...log.map((l) => `| ${l}`)]
    : ['its log is empty'];
}

/** One service address that did not answer (src/services/reach.ts). */
export interface ServiceFailure {
  service: string;
  host: string;
  port: number;
  /** ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENOTFOUND...; EUNSET, EUNEXPANDED, EBADURL, EBADPORT for settings that name no address. */
  code: string;
  ms: number;
  /** Connection attempts: quick failures are tried again within the connect deadline. */
  attempts?: number;
  variable?: string;
  ref?: string;
}

const serviceWhere = (f: ServiceFailure) => (f.host ? `${f.host.includes(':') ? `[${f.host}]` : f.host}:${f.port}` : `(${f.variable || 'no address'})`);

function serviceWhy(f: ServiceFailure, connectSeconds: number): string {
  switch (f.code) {
    case 'ETIMEDOUT':
      return `timed out after ${connectSeconds} s (no answer: the packets are dropped)`;
    case 'ECONNREFUSED':
      return `connection refused${serviceAttempts(f)}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to host${serviceAttempts(f)}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'EUNSET':
      return `${f.variable || 'its address variable'} is not set (or empty) in the app's environment`;
    case 'EUNEXPANDED':
      return `${f.variable} still holds $(${f.ref ?? '?'}): the kubelet could not expand it`;
    case 'EBADURL':
      return `${f.variable} does not hold a usable address (scheme://user:password@host:port/database expected)`;
    case 'EBADPORT':
      return `${f.variable} is not a port number`;
    default:
      return f.code;
  }
}

const serviceAttempts = (f: ServiceFailure) => (f.attempts && f.attempts > 1 ? ` (${f.attempts} attempts in ${Math.round(f.ms / 1000)} s)` : '');

function podCidrText(d: ErrorDetails['E_SERVICE_UNREACHABLE']): string {
  if (d.podCidr && d.podCidrSource === 'node') return `${d.podCidr} (the node's spec.podCIDR)`;
  const unread = `the node's pod CIDR could not be read: ${d.podCidrNote ?? 'unknown'}`;
  if (d.podCidr) return `${d.podCidr} (the network of the check pod's interface; ${unread})`;
  return `${d.podIP || '(unknown)'} (${unread})`;
}

function serviceFix(f: ServiceFailure, d: ErrorDetails['E_SERVICE_UNREACHABLE']): string {
  const where = serviceWhere(f);
  switch (f.code) {
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': {
      const cidr = d.podCidr ?? (d.podIP ? `${d.podIP}/32 (and the rest of the pods' range)` : "the pods' CIDR");
      return `add ${cidr} (the pods' addresses; on ACK with Terway the pod vSwitch CIDR, with Flannel the cluster's pod CIDR) to the database's whitelist (RDS: Data Security > Whitelist; ApsaraDB for MongoDB / Tair: the same) or its security group, and check that ${f.host || 'the host'} is the VPC (internal) endpoint`;
    }
    case 'ECONNREFUSED':
      return `nothing listens at ${where}: check the port and that the instance is running`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host name ${f.host} does not resolve from the pods: use the VPC endpoint and check the cluster's DNS`;
    case 'EUNSET':
    case 'EBADURL':
      return `check what environments.<env>.services.${f.service} binds (the CI variable or the Secret key must hold the service's URL, the password URL-encoded)`;
    case 'EUNEXPANDED':
      return `$(${f.ref ?? '?'}) is expanded only if it exists when the pod starts: a Service-link variable needs its Service created first (check the Service's name), another variable must come earlier in the env`;
    case 'EBADPORT':
      return `set ${f.variable} to the port number`;
    default:
      return `check that ${where} accepts TCP connections from the pods`;
  }
}

export interface GantryErrorOptions {
  details?: string[];
  fix?: string | undefined;
  cause?: unknown;
}

export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly details: string[];
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.code = code;
    this.details = options.details ?? [];
    this.fix = options.fix;
  }

  get exitCode(): 1 | 2 {
    return catalogue[this.code].exitCode;
  }
}

/** The error for a code, its message, lines and fix said by the catalogue from the details. */
export function gantryError<C extends ErrorCode>(code: C, details: ErrorDetails[C], options: { cause?: unknown } = {}): GantryError {
  // One code's entry; TypeScript cannot follow the code into the mapped type by itself.
  const entry = catalogue[code] as unknown as CatalogueEntry<ErrorDetails[C]>;
  const fix = entry.fix(details);
  return new GantryError(code, entry.message(details), {
    details: entry.lines?.(details) ?? [],
    ...(fix === undefined ? {} : { fix }),
    cause: options.cause,
  });
}

export function isGantryError(error: unknown): error is GantryError {
  return error instanceof GantryError;
}

/** Wrap a lower-level error with what was being done, keeping Gantry errors as they are. */
export function wrapError(doing: string, error: unknown): GantryError {
  if (isGantryError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return gantryError('E_INTERNAL', { doing, reason }, { cause: error });
}

/** The text a user sees for an error: code, message, details, fix. */
export function formatError(error: GantryError): string {
  const lines = [`error ${error.code}: ${error.message}`];
  for (const detail of error.details) lines.push(`  ${detail}`);
  if (error.fix) lines.push(`fix: ${error.fix}`);
  return lines.join('\n');
}
