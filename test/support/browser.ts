// A real browser for the tests: Debian's Chromium, headless, driven over the DevTools protocol
// through a pipe (--remote-debugging-pipe: messages are JSON ended by a NUL byte, written to its
// fd 3 and read from its fd 4), so neither a debugging port nor a WebSocket client is needed.
//
// It reaches nothing but loopback: every host name resolves to nothing except 127.0.0.1, and the
// background services that would call home (component and safe-browsing updates, sync, metrics,
// field trials, translation, the default apps) are switched off.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The Chromium executable (Debian's package: apt-get install chromium), or undefined. */
export function chromiumPath(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

export interface PageRequest {
  url: string;
  method: string;
  /** Document, Script, Stylesheet, Image, ... as DevTools names it. */
  type: string;
  status?: number;
  /** net::ERR_... when the request failed. */
  failed?: string;
}

export interface PageVisit {
  /** Every request the page made, in order. */
  requests: PageRequest[];
  /** Uncaught exceptions thrown by the page's scripts. */
  exceptions: string[];
  /** Evaluates an expression in the page (awaiting a promise) and returns its value. */
  evaluate<T>(expression: string): Promise<T>;
  /** Waits until no request is in flight for `quietMs`. */
  settle(quietMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Message = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
};

const FLAGS = [
  '--headless=new',
  '--remote-debugging-pipe',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--disable-field-trial-config',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,SafeBrowsing',
  '--metrics-recording-only',
  '--no-pings',
  '--no-proxy-server',
  '--password-store=basic',
  '--use-mock-keychain',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/**
 * Opens `url` in a fresh headless Chromium (its own profile in a temp dir), recording every
 * request from before the navigation, and resolves once the load event has fired and the
 * network has been quiet for a moment.
 */
export async function visit(url: string, options: { timeoutMs?: number } = {}): Promise<PageVisit> {
  const executable = chromiumPath();
  if (!executable) throw new Error('no chromium on PATH: apt-get install chromium (test/setup.sh installs it)');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const profile = mkdtempSync(path.join(tmpdir(), 'gantry-chromium-'));
  // Its own process group, so closing it also ends its helper processes (renderer, network, zygote).
  const child = spawn(executable, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let nextId = 1;
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: ((m: Message) => void)[] = [];
  let buffered = '';
  output.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\0'); end !== -1; end = buffered.indexOf('\0')) {
      const message = JSON.parse(buffered.slice(0, end)) as Message;
      buffered = buffered.slice(end + 1);
      if (message.id !== undefined && pending.has(message.id)) {
        const p = pending.get(message.id)!;
        pending.delete(message.id);
        if (message.error) p.reject(new Error(`DevTools: ${message.error.message}`));
        else p.resolve(message.result ?? {});
      } else for (const l of listeners) l(message);
    }
  });
  exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
    pending.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const close = async () => {
    await Promise.race([send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    if (groupAlive()) process.kill(-child.pid!, 'SIGKILL');
    await exited;
    input.destroy();
    output.destroy();
    child.stderr!.destroy();
    for (let i = 0; i < 50 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 100));
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };

  try {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const requests: PageRequest[] = [];
    const byId = new Map<string, PageRequest>();
    const inFlight = new Set<string>();
    const exceptions: string[] = [];
    let lastActivity = Date.now();
    let loaded = false;
    listeners.push((m) => {
      if (m.sessionId !== sessionId || !m.params) return;
      const p = m.params as Record<string, any>;
      lastActivity = Date.now();
      switch (m.method) {
        case 'Network.requestWillBeSent': {
          // A redirect reuses the request id: the earlier hop is kept as its own entry.
          const r: PageRequest = { url: p.request.url, method: p.request.method, type: p.type ?? 'Other' };
          if (p.redirectResponse) byId.get(p.requestId)!.status = p.redirectResponse.status;
          requests.push(r);
          byId.set(p.requestId, r);
          inFlight.add(p.requestId);
          break;
        }
        case 'Network.responseReceived':
          if (byId.has(p.requestId)) byId.get(p.requestId)!.status = p.response.status;
          break;
        case 'Network.loadingFinished':
          inFlight.delete(p.requestId);
          break;
        case 'Network.loadingFailed':
          if (byId.has(p.requestId)) byId.get(p.requestId)!.failed = p.errorText || (p.blockedReason ?? 'failed');
          inFlight.delete(p.requestId);
          break;
        case 'Runtime.exceptionThrown':
          exceptions.push(p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text ?? 'exception');
          break;
        case 'Page.loadEventFired':
          loaded = true;
          break;
      }
    });
    await send('Network.enable', {}, sessionId);
    await send('Network.setCacheDisabled', { cacheDisabled: true }, sessionId);
    await send('Page.enable', {}, sessionId);
    await send('Runtime.enable', {}, sessionId);
    const navigation = (await send('Page.navigate', { url }, sessionId)) as { errorText?: string };
    if (navigation.errorText) throw new Error(`navigate to ${url}: ${navigation.errorText}`);

    const settle = async (quietMs = 500) => {
      const deadline = Date.now() + timeoutMs;
      while (!(loaded && inFlight.size === 0 && Date.now() - lastActivity >= quietMs)) {
        if (Date.now() > deadline) throw new Error(`${url}: not settled in ${timeoutMs} ms (loaded: ${loaded}, in flight: ${inFlight.size})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await settle();
    return {
      requests,
      exceptions,
      settle,
      async evaluate<T>(expression: string): Promise<T> {
        const r = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId)) as {
          result: { value: T };
          exceptionDetails?: { text: string };
        };
        if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.text}`);
        return r.result.value;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
