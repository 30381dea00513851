// Every CI variable Gantry reads, read here and nowhere else: GitLab's predefined CI_* ones,
// Gantry's own GANTRY_* ones (set by the user as CI/CD variables), and the K8S_SECRET_* ones
// that become the app's Secret. Values are handed on as the environment has them (a caller
// decides what an empty value means); only the retry counts are numbers. This is also where a
// variable's name says whether its value is a secret, so the log masks it without being asked.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { urlPasswords } from '../log/credentials.js';

export interface CiVariables {
  /** Set by GitLab in every job. */
  predefined: {
    /** GITLAB_CI and CI: "true" in a pipeline. */
    gitlabCi: string | undefined;
    ci: string | undefined;
    commitSha: string | undefined;
    commitShortSha: string | undefined;
    commitBranch: string | undefined;
    commitRefName: string | undefined;
    commitRefSlug: string | undefined;
    mergeRequestIid: string | undefined;
    mergeRequestSourceBranchName: string | undefined;
    mergeRequestProjectId: string | undefined;
    pipelineUrl: string | undefined;
    jobUrl: string | undefined;
    jobToken: string | undefined;
    projectId: string | undefined;
    projectName: string | undefined;
    projectPath: string | undefined;
    projectUrl: string | undefined;
    environmentName: string | undefined;
    environmentUrl: string | undefined;
    serverUrl: string | undefined;
    apiV4Url: string | undefined;
    gitlabUserLogin: string | undefined;
  };
  /** Gantry's own, set as CI/CD variables (or by an earlier job's dotenv report: GANTRY_IMAGE). */
  gantry: {
    config: string | undefined;
    app: string | undefined;
    /** Lines of path=value overrides of gantry.yaml. */
    set: string | undefined;
    image: string | undefined;
    environmentUrl: string | undefined;
    gitlabUrl: string | undefined;
    gitlabToken: string | undefined;
    /** GANTRY_GITLAB_RETRIES, default 3. */
    gitlabRetries: number;
    ossAccessKeyId: string | undefined;
    ossAccessKeySecret: string | undefined;
    /** GANTRY_OSS_RETRIES, default 3. */
    ossRetries: number;
    cdnAccessKeyId: string | undefined;
    cdnAccessKeySecret: string | undefined;
    registryUser: string | undefined;
    registryPassword: string | undefined;
    registryPullUser: string | undefined;
    registryPullPassword: string | undefined;
    /** GANTRY_REGISTRY_RETRIES, default 3. */
    registryRetries: number;
    deployLeaseSeconds: string | undefined;
  };
  /** The machine's, not CI's: DOCKER_HOST and USER. */
  local: {
    dockerHost: string | undefined;
    user: string | undefined;
  };
}

export function ciVariables(env: NodeJS.ProcessEnv): CiVariables {
  return {
    predefined: {
      gitlabCi: env.GITLAB_CI,
      ci: env.CI,
      commitSha: env.CI_COMMIT_SHA,
      commitShortSha: env.CI_COMMIT_SHORT_SHA,
      commitBranch: env.CI_COMMIT_BRANCH,
      commitRefName: env.CI_COMMIT_REF_NAME,
      commitRefSlug: env.CI_COMMIT_REF_SLUG,
      mergeRequestIid: env.CI_MERGE_REQUEST_IID,
      mergeRequestSourceBranchName: env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,
      mergeRequestProjectId: env.CI_MERGE_REQUEST_PROJECT_ID,
      pipelineUrl: env.CI_PIPELINE_URL,
      jobUrl: env.CI_JOB_URL,
      jobToken: env.CI_JOB_TOKEN,
      projectId: env.CI_PROJECT_ID,
      projectName: env.CI_PROJECT_NAME,
      projectPath: env.CI_PROJECT_PATH,
      projectUrl: env.CI_PROJECT_URL,
      environmentName: env.CI_ENVIRONMENT_NAME,
      environmentUrl: env.CI_ENVIRONMENT_URL,
      serverUrl: env.CI_SERVER_URL,
      apiV4Url: env.CI_API_V4_URL,
      gitlabUserLogin: env.GITLAB_USER_LOGIN,
    },
    gantry: {
      config: env.GANTRY_CONFIG,
      app: env.GANTRY_APP,
      set: env.GANTRY_SET,
      image: env.GANTRY_IMAGE,
      environmentUrl: env.GANTRY_ENVIRONMENT_URL,
      gitlabUrl: env.GANTRY_GITLAB_URL,
      gitlabToken: env.GANTRY_GITLAB_TOKEN,
      gitlabRetries: Number(env.GANTRY_GITLAB_RETRIES ?? 3),
      ossAccessKeyId: env.GANTRY_OSS_ACCESS_KEY_ID,
      ossAccessKeySecret: env.GANTRY_OSS_ACCESS_KEY_SECRET,
      ossRetries: Number(env.GANTRY_OSS_RETRIES ?? 3),
      cdnAccessKeyId: env.GANTRY_CDN_ACCESS_KEY_ID,
      cdnAccessKeySecret: env.GANTRY_CDN_ACCESS_KEY_SECRET,
      registryUser: env.GANTRY_REGISTRY_USER,
      registryPassword: env.GANTRY_REGISTRY_PASSWORD,
      registryPullUser: env.GANTRY_REGISTRY_PULL_USER,
      registryPullPassword: env.GANTRY_REGISTRY_PULL_PASSWORD,
      registryRetries: Number(env.GANTRY_REGISTRY_RETRIES ?? 3),
      deployLeaseSeconds: env.GANTRY_DEPLOY_LEASE_SECONDS,
    },
    local: {
      dockerHost: env.DOCKER_HOST,
      user: env.USER,
    },
  };
}

/** CI variables with a fixed meaning in gantry.yaml (variable -> dotted path); anything else goes through GANTRY_SET. */
export const configOverrideVariables: Record<string, string> = {
  GANTRY_APP: 'app',
  GANTRY_REGISTRY_PUSH_HOST: 'registry.pushHost',
  GANTRY_REGISTRY_PULL_HOST: 'registry.pullHost',
  GANTRY_REGISTRY_NAMESPACE: 'registry.namespace',
  GANTRY_REPLICAS: 'backend.replicas',
  GANTRY_FRONTEND_BUCKET: 'frontend.bucket',
  GANTRY_FRONTEND_REGION: 'frontend.region',
};

/** The config override variables that are set (not empty), in table order. */
export function configOverrideValues(env: NodeJS.ProcessEnv): { variable: string; path: string; value: string }[] {
  const out: { variable: string; path: string; value: string }[] = [];
  for (const [variable, path] of Object.entries(configOverrideVariables)) {
    const value = env[variable];
    if (value !== undefined && value !== '') out.push({ variable, path, value });
  }
  return out;
}

/** The Auto DevOps convention: CI variables K8S_SECRET_<KEY> become key <KEY> of the app's Secret. */
export const K8S_SECRET_PREFIX = 'K8S_SECRET_';

/** The K8S_SECRET_* variables as [key without the prefix, value], sorted by key. */
export function k8sSecretVariables(env: NodeJS.ProcessEnv): (readonly [string, string])[] {
  return Object.entries(env)
    .filter((e): e is [string, string] => e[0].startsWith(K8S_SECRET_PREFIX) && e[0].length > K8S_SECRET_PREFIX.length && typeof e[1] === 'string')
    .map(([k, v]) => [k.slice(K8S_SECRET_PREFIX.length), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// *_PASSWORD (and _PASSWD, _PASS, _PWD, _PASSPHRASE), *_SECRET (ACCESS_KEY_SECRET, *_KEY_SECRET),
// *_TOKEN (CI_JOB_TOKEN), *_CREDENTIALS, *_AUTH and DOCKER_AUTH_CONFIG, a Sentry-style *_DSN (its
// key is the URL's user), the keys that are secrets (private, API, access, secret, signing,
// encryption, master, SSH, deploy, licence and client keys: SECRET_KEY, AWS_SECRET_ACCESS_KEY),
// GitLab's ID tokens (CI_JOB_JWT*), and every K8S_SECRET_* value. Connection strings such as
// DATABASE_URL are not secret as a whole: the password in their userinfo is (secretValues).
const SECRET_NAME =
  /(^|_)(PASSWORD|PASSWD|PASS|PASSPHRASE|SECRET|TOKEN|CREDENTIALS?|O?AUTH|AUTH_CONFIG|DSN|(PRIVATE|API|ACCESS|SECRET|SIGNING|ENCRYPTION|MASTER|SSH|DEPLOY|LICENSE|CLIENT)_KEY|JWT(_V\d+)?)$|_PWD$|^K8S_SECRET_./;
const KUBECONFIG_NAME = /^(GANTRY_)?KUBECONFIG/;

/** Whether a variable's name says its value is a secret. */
export function isSecretVariable(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Whether a variable's name says it holds a kubeconfig (its content, base64 content, or a path to it). */
export function isKubeconfigVariable(name: string): boolean {
  return KUBECONFIG_NAME.test(name);
}

/**
 * Every value in `env` the log must never show: each secret-named variable's value (as set,
 * trimmed and URL-encoded), the forms it travels in (K8S_SECRET_* values base64-encoded in the
 * Secret, a <X>_USER/<X>_PASSWORD pair as basic auth), the password in any variable's URL
 * userinfo or connection string (DATABASE_URL, GANTRY_GITLAB_URL, an OSS endpoint), and for a
 * kubeconfig variable its content and the tokens, keys and passwords in it. Values are not
 * filtered by length here: the logger refuses the ones too short to mask safely.
 */
export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  const add = (value: string | undefined) => {
    if (value === undefined) return;
    out.add(value);
    out.add(value.trim());
  };
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string' || value === '') continue;
    if (isSecretVariable(name)) {
      add(value);
      // A secret put into a URL (a query parameter, a userinfo) travels percent-encoded.
      add(encodeURIComponent(value.trim()));
      if (name.startsWith(K8S_SECRET_PREFIX)) out.add(Buffer.from(value, 'utf8').toString('base64'));
      const user = name.endsWith('_PASSWORD') ? env[`${name.slice(0, -'_PASSWORD'.length)}_USER`] : undefined;
      if (user) out.add(Buffer.from(`${user}:${value}`).toString('base64'));
    }
    if (isKubeconfigVariable(name) || /^current-context\s*:|"current-context"\s*:/m.test(value)) for (const secret of kubeconfigSecrets(value)) add(secret);
    else if (value.includes('://')) for (const secret of urlPasswords(value)) add(secret);
    // ADO.NET/JDBC-style connection strings: Server=db;User Id=app;Password=...;
    if (value.includes(';')) for (const m of value.matchAll(/(?:^|;)\s*(?:password|pwd)\s*=\s*([^;]+)/gi)) add(m[1]);
  }
  out.delete('');
  return [...out];
}

// The credential fields of a kubeconfig's users (YAML or JSON): found by their keys, so reading
// them needs no YAML parser when the logger is created.
// `value` is an exec plugin's environment (users[].user.exec.env[].value), which holds cloud keys.
const CREDENTIAL_FIELD =
  /["']?\b(token|password|client-key-data|client-certificate-data|access-token|id-token|refresh-token|client-secret|value)["']?\s*:\s*["']?([^\s"',}]+)/g;

/** The secrets in a kubeconfig variable's value: a path (or KUBECONFIG's path list), YAML, or base64 YAML. */
export function kubeconfigSecrets(value: string): string[] {
  const text = value.trim();
  const single = !text.includes('\n') && text.length < 4096;
  const paths = single && /^(\/|\.\/|[A-Za-z]:\\)/.test(text) ? text.split(process.platform === 'win32' ? ';' : ':') : [];
  if (paths.length > 0) {
    // A GitLab "file" variable or KUBECONFIG=path: the path is not a secret, the file's content is.
    const out: string[] = [];
    for (const file of paths) {
      try {
        const stat = existsSync(file) ? statSync(file) : undefined;
        if (stat?.isFile() && stat.size < 1024 * 1024) out.push(...kubeconfigSecrets(readFileSync(file, 'utf8')));
      } catch {
        // An unreadable file has nothing to mask; the step that needs it reports it.
      }
    }
    return out;
  }
  const out = [text];
  let yaml = text;
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z_-]+:/m.test(text) && !text.startsWith('{') && /^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) {
    // The base64 form (GitLab cannot mask multi-line values): it decodes to all of the below.
    out.push(compact);
    yaml = Buffer.from(compact, 'base64').toString('utf8');
  }
  for (const m of yaml.matchAll(CREDENTIAL_FIELD)) {
    const field = m[1]!;
    const secret = m[2]!;
    out.push(secret);
    // Key data is the base64 of a PEM key, which an error message may quote decoded.
    if (field === 'client-key-data') out.push(Buffer.from(secret, 'base64').toString('utf8').trim());
  }
  // A server or proxy-url with a password in its userinfo.
  out.push(...urlPasswords(yaml));
  return out;
}
