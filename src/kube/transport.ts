// The time bounds of every request to the API server (src/retry.ts Deadlines): a connect
// timeout on each socket (TCP and, for https, the TLS handshake), a deadline per request from
// sending it to the last byte of the answer, and the memory that the server was found silent,
// so the later calls of the same step fail at once with that cause instead of each waiting
// again. client-node's own requests get these through a wrapped HTTP library (boundedHttp);
// Gantry's direct requests (watch.ts) through boundConnect and requestTimeout.
import net from 'node:net';
import tls from 'node:tls';
import { createConfiguration, ResponseContext, wrapHttpLibrary, type HttpLibrary, type KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { type Deadlines, untilAborted, withinMs } from '../retry.js';

/** A request that got no answer in time: `phase` says whether the connection or the answer was missing. */
export interface KubeTimeout extends Error {
  name: 'TimeoutError';
  code: 'ETIMEDOUT';
  phase: 'connect' | 'request';
  /** The limit that passed (connectMs or requestMs). */
  limitMs: number;
}

export function kubeTimeout(phase: KubeTimeout['phase'], limitMs: number, host: string): KubeTimeout {
  const text = phase === 'connect' ? `no connection to ${host} within ${limitMs} ms` : `no answer from ${host} within ${limitMs} ms`;
  return Object.assign(new Error(text), { name: 'TimeoutError' as const, code: 'ETIMEDOUT' as const, phase, limitMs });
}

/** The KubeTimeout behind `error` (its cause chain, as client libraries wrap it), if any. */
export function timeoutBehind(error: unknown): KubeTimeout | undefined {
  for (let e = error as { phase?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.phase === 'connect' || e.phase === 'request') return e as unknown as KubeTimeout;
  }
  return undefined;
}

const BOUND = Symbol('gantry.connectBound');

/**
 * Makes every socket `agent` opens give up after connectMs without a connection (TCP connected
 * and, on TLS, the handshake done): a server that accepts and never speaks TLS would otherwise
 * hold the request until its own deadline. Agents that connect through a callback (proxy
 * agents) keep only the request deadline.
 */
export function boundConnect(agent: unknown, connectMs: number, host: string, onTimeout: (error: KubeTimeout) => void = () => {}): void {
  const a = agent as { createConnection?: (...args: unknown[]) => unknown; [BOUND]?: true } | undefined;
  if (!a || typeof a.createConnection !== 'function' || a[BOUND]) return;
  const original = a.createConnection.bind(a);
  a[BOUND] = true;
  a.createConnection = (...args: unknown[]) => {
    const socket = original(...args);
    if (socket instanceof net.Socket) {
      const connected = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => {
        const error = kubeTimeout('connect', connectMs, host);
        onTimeout(error);
        socket.destroy(error);
      }, connectMs);
      socket.once(connected, () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  };
}

/**
 * client-node's HTTP library with Gantry's deadlines: connectMs per socket, requestMs from
 * sending to the last byte (the answer is read in full inside the deadline), ended at once by
 * `signal` (the step's). A timeout rejects with a KubeTimeout naming the phase.
 */
export function boundedHttp(
  deadlines: Pick<Deadlines, 'connectMs' | 'requestMs'>,
  signal: AbortSignal,
  inner: HttpLibrary = createConfiguration().httpApi,
): HttpLibrary {
  return wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const host = new URL(request.getUrl()).host;
      const limit = new AbortController();
      let timedOut: KubeTimeout | undefined;
      const timer = setTimeout(() => {
        timedOut = kubeTimeout('request', deadlines.requestMs, host);
        limit.abort(timedOut);
      }, deadlines.requestMs);
      boundConnect(request.getAgent(), deadlines.connectMs, host, (error) => (timedOut ??= error));
      const given = request.getSignal();
      request.setSignal(AbortSignal.any([signal, limit.signal, ...(given ? [given] : [])]));
      try {
        const response = await inner.send(request).toPromise();
        const body = await response.body.binary();
        return new ResponseContext(response.httpStatusCode, response.headers, { binary: async () => body, text: async () => body.toString('utf8') });
      } catch (error) {
        if (timedOut && !signal.aborted) throw Object.assign(timedOut, { cause: error });
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** What the step learnt about the API server's silence: the failure later calls repeat at once. */
export interface Silence {
  error: unknown;
}

const SILENT = Symbol('gantry.silentServer');

/**
 * Remembers on the kubeconfig (one per step) that its server did not answer, with the error
 * that said so. Kept on the object the step holds, not in module state.
 */
export function markSilent(kc: KubeConfig, error: unknown): void {
  (kc as unknown as { [SILENT]?: Silence })[SILENT] ??= { error };
}

/** The silence found earlier in this step, if any. */
export function silenceOf(kc: KubeConfig): Silence | undefined {
  return (kc as unknown as { [SILENT]?: Silence })[SILENT];
}

/** A kubeconfig exec plugin (a cloud's token helper) that failed: what it is and what it said. */
export interface ExecPluginFailure extends Error {
  execPlugin: { command: string; said: string };
}

/**
 * Applies the kubeconfig's credentials through `apply`; when its user runs an exec plugin and
 * that fails, the error names the plugin and what it wrote on stderr (client-node rejects
 * with stderr as the whole message: empty when the plugin said nothing). Secrets in it are
 * masked where every line is, in the logger.
 */
export async function withCredentials<T>(kc: KubeConfig, apply: () => Promise<T>, bound: { signal: AbortSignal; ms: number }): Promise<T> {
  try {
    // client-node runs an exec plugin with no timeout and no signal, before any request timer
    // starts: a token helper that hangs (on a silent STS endpoint) would hold the step. Bounded
    // by the request deadline and the step's signal; the plugin process itself is left to end.
    return await untilAborted(bound.signal, withinMs(bound.ms, apply()));
  } catch (error) {
    if (bound.signal.aborted) throw error;
    const command = kc.getCurrentUser()?.exec?.command;
    if (!command) throw error;
    const lines = String((error as Error)?.message ?? error)
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    const said = lines.length === 0 ? 'it exited with an error and wrote nothing on stderr' : lines.slice(-5).join(' / ').slice(-1000);
    throw Object.assign(new Error(`the kubeconfig's exec plugin ${command} failed: ${said}`, { cause: error }), { execPlugin: { command, said } });
  }
}

export function execPluginFailure(error: unknown): ExecPluginFailure['execPlugin'] | undefined {
  return (error as Partial<ExecPluginFailure> | null)?.execPlugin;
}
