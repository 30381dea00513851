// The kubeconfig comes from one CI variable per cluster. GitLab "file" variables hold a path;
// plain variables hold the content, as YAML or base64 (GitLab cannot mask multi-line values,
// so people base64 it). Whatever the form, Gantry writes it to a private temp file that
// kubectl-style tools can use too, and masks its credentials in the log.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Ctx } from '../context.js';
import { GantryError } from '../errors.js';
import { secretArgs, urlPasswords } from '../log/credentials.js';

export interface CiKubeconfig {
  kc: KubeConfig;
  /** A 0600 file holding the kubeconfig, for tools that want KUBECONFIG=path. */
  path: string;
  /** Removes the temp file (and its private directory). Safe to call twice. */
  dispose(): Promise<void>;
}

export interface DecodedKubeconfig {
  kc: KubeConfig;
  text: string;
  /** Credential values found in it (tokens, keys, passwords), to be masked in the log. */
  secrets: string[];
}

/** Turns the variable's value (a path, YAML, or base64 YAML) into a checked KubeConfig. Pure apart from reading a named file. */
export function decodeKubeconfig(varName: string, value: string | undefined): DecodedKubeconfig {
  const fix = `put the cluster's kubeconfig in the CI/CD variable ${varName} (type "File", or a variable holding the YAML or its base64), or point environments.<env>.kubeconfig in gantry.yaml at the variable that holds it`;
  const fail = (message: string, details: string[] = [], cause?: unknown) => new GantryError('E_KUBECONFIG', `${varName}: ${message}`, { details, fix, cause });

  if (value === undefined || value.trim() === '') throw fail('the CI variable is not set or empty');
  let text = value.trim();
  let source = 'its value';
  if (looksLikePath(text)) {
    // A GitLab "file" variable: the value is the path of a file holding the content.
    if (!existsSync(text) || !statSync(text).isFile()) throw fail(`names the file ${text}, which does not exist`);
    source = `the file ${text}`;
    text = readFileSync(text, 'utf8').trim();
  }
  let base64: string | undefined;
  if (!looksLikeYaml(text)) {
    const compact = text.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw fail(`${source} is neither kubeconfig YAML nor base64`);
    const decoded = Buffer.from(compact, 'base64').toString('utf8').trim();
    if (!looksLikeYaml(decoded)) throw fail(`${source} is base64, but what it decodes to is not a kubeconfig`);
    base64 = compact;
    text = decoded;
  }

  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (error) {
    // js-yaml's message quotes the lines around the problem, which may hold a token or a key
    // (not yet masked: nothing was decoded): only its reason and position are shown, and the
    // original error is not kept as the cause.
    const e = error as { reason?: string; mark?: { line?: number; column?: number }; message?: string };
    const what = e.reason ? `${e.reason} (line ${(e.mark?.line ?? 0) + 1}, column ${(e.mark?.column ?? 0) + 1})` : (e.message ?? String(error)).split('\n')[0]!;
    throw fail(`${source} is not a valid kubeconfig: ${what}`);
  }
  const current = kc.getCurrentContext();
  const contexts = kc.getContexts().map((c) => c.name);
  if (!current) {
    throw fail('the kubeconfig has no current-context', [contexts.length > 0 ? `contexts in it: ${contexts.join(', ')}` : 'it defines no contexts at all']);
  }
  const context = kc.getContextObject(current);
  if (!context) throw fail(`current-context "${current}" is not one of its contexts`, [`contexts in it: ${contexts.join(', ') || '(none)'}`]);
  if (!kc.getCluster(context.cluster)) throw fail(`context "${current}" names the cluster "${context.cluster}", which it does not define`);
  if (!kc.getUser(context.user)) throw fail(`context "${current}" names the user "${context.user}", which it does not define`);

  // The base64 form as a whole is a credential too (it decodes to all of the above).
  return { kc, text: `${text}\n`, secrets: [...credentialValues(kc), ...(base64 ? [base64] : [])] };
}

/** Reads the kubeconfig from the CI variable `varName`, writes it to a 0600 temp file and masks its credentials. */
export async function kubeconfigFromCi(ctx: Ctx, varName: string): Promise<CiKubeconfig> {
  const raw = ctx.env[varName];
  const decoded = decodeKubeconfig(varName, raw);
  for (const secret of decoded.secrets) ctx.logger.addSecret(secret);
  const dir = await mkdtemp(path.join(tmpdir(), 'gantry-kube-'));
  // Registered before the token is written: a cancelled run removes it even if the step never
  // reaches its finally (a second signal, a cleanup that takes too long).
  ctx.cleanup.holdCredentials(dir);
  const dispose = async () => {
    await rm(dir, { recursive: true, force: true });
    ctx.cleanup.removedCredentials(dir, `removed the kubeconfig temp file of ${varName}`);
  };
  const file = path.join(dir, 'kubeconfig');
  try {
    await writeFile(file, decoded.text, { mode: 0o600 });
  } catch (error) {
    await dispose();
    throw error;
  }
  const context = decoded.kc.getContextObject(decoded.kc.getCurrentContext())!;
  ctx.logger.info(`kubeconfig from ${varName}: context ${context.name}, cluster ${decoded.kc.getCurrentCluster()?.server ?? context.cluster}`);
  return { kc: decoded.kc, path: file, dispose };
}

function looksLikeYaml(text: string): boolean {
  // A kubeconfig is a mapping: YAML with "key:" lines, or JSON (which is YAML too).
  return text.startsWith('{') || /^[A-Za-z_-]+:/m.test(text);
}

function looksLikePath(value: string): boolean {
  // Base64 can start with "/" as well; a path is one short line without "=" or ":" (after a drive letter).
  return value.length < 1024 && !value.includes('\n') && /^(\/|\.\/|[A-Za-z]:\\)[^:=]*$/.test(value) && (existsSync(value) || /^\/[\w./ -]+$/.test(value));
}

/**
 * Every credential a kubeconfig holds, in the forms a message may quote it: users' tokens, basic
 * auth (the password, user:password and its base64), client keys (the data, the PEM it decodes
 * to, a client-key file's content), exec plugins' env values and secret-looking args,
 * auth-provider config (tokens, secrets, and its command's args), and the password in a cluster's
 * server or proxy-url userinfo. Client certificates are public and are not listed.
 */
export function credentialValues(kc: KubeConfig): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.trim() !== '') out.push(v.trim());
  };
  const addKey = (pem: string) => {
    add(pem);
    // Each line of the key's body: a message may quote one line of a PEM block.
    for (const line of pem.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) add(line);
  };
  const addExec = (exec: unknown) => {
    if (!exec || typeof exec !== 'object') return;
    const { env, args } = exec as { env?: unknown; args?: unknown };
    // The plugin's environment is where cloud keys go (ALIBABA_CLOUD_ACCESS_KEY_SECRET...): every value.
    if (Array.isArray(env)) for (const entry of env) add((entry as { value?: unknown } | null)?.value);
    if (Array.isArray(args)) for (const arg of secretArgs(args)) add(arg);
  };
  for (const cluster of kc.getClusters()) {
    for (const url of [cluster.server, cluster.proxyUrl]) if (url) for (const secret of urlPasswords(url)) add(secret);
  }
  for (const user of kc.getUsers()) {
    add(user.token);
    if (user.password) {
      add(user.password);
      if (user.username) {
        add(`${user.username}:${user.password}`);
        add(Buffer.from(`${user.username}:${user.password}`).toString('base64'));
      }
    }
    if (user.keyData) {
      add(user.keyData);
      addKey(Buffer.from(user.keyData, 'base64').toString('utf8'));
    }
    if (user.keyFile) {
      // client-node reads it for each request; an error quoting it must not show it.
      try {
        const stat = statSync(user.keyFile);
        if (stat.isFile() && stat.size < 1024 * 1024) addKey(readFileSync(user.keyFile, 'utf8'));
      } catch {
        // A key file that cannot be read holds nothing to mask; the request reports it.
      }
    }
    addExec(user.exec);
    const provider = user.authProvider as { config?: Record<string, unknown> } | undefined;
    const config = provider?.config ?? {};
    for (const [key, value] of Object.entries(config)) {
      // oidc's client-secret, id-token, refresh-token; gcp's and azure's access-token; not token-key (a JSONPath).
      if (/(token|secret|password|passwd|credentials?)$/i.test(key)) add(value);
      if (key === 'cmd-args' && typeof value === 'string') for (const arg of secretArgs(value.split(/\s+/))) add(arg);
    }
    addExec(config.exec);
  }
  return out;
}
