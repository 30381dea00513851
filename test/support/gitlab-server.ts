// An in-memory GitLab REST API (v4) server for tests that drive the real @gitbeaker/rest client.
//
// It answers the routes Gantry's src/gitlab uses with GitLab's response shapes (doc/api/notes.md,
// merge_requests.md, environments.md) and GitLab's offset pagination: `page` / `per_page` (default
// 20, max 100) with x-page, x-per-page, x-total, x-total-pages, x-next-page, x-prev-page and a
// `link` header (rel next/prev/first/last) carrying every query parameter, which is what gitbeaker
// follows (it requests the next link's query string against its own base URL).
//
//   GET  /api/v4/projects/:id/merge_requests?state=opened|closed|merged|locked|all
//   GET  /api/v4/projects/:id/merge_requests/:iid
//   GET  /api/v4/projects/:id/merge_requests/:iid/notes?sort=asc|desc&order_by=created_at|updated_at
//   GET  /api/v4/projects/:id/merge_requests/:iid/notes/:note_id
//   POST /api/v4/projects/:id/merge_requests/:iid/notes          (body: JSON, form or query)
//   PUT  /api/v4/projects/:id/merge_requests/:iid/notes/:note_id (only the note's author may edit)
//   GET  /api/v4/projects/:id/environments?name=&states=
//   POST /api/v4/projects/:id/environments/:environment_id/stop
//
// `:id` is the numeric id or the URL-encoded path (acme%2Fshop). Authentication as GitLab does it:
// PRIVATE-TOKEN, `Authorization: Bearer` (OAuth / access tokens) or JOB-TOKEN; an unknown token
// is 401 {"message":"401 Unauthorized"}. A job token only authenticates routes GitLab allows for
// job tokens (environments here; not merge requests or notes, which answer 401 as on GitLab.com)
// and only for its own project (403 otherwise).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenOnLoopback } from './loopback.js';

export interface GitlabUser {
  id: number;
  username: string;
  name: string;
}

export interface PrivateTokenConfig {
  token: string;
  user: GitlabUser;
}

export interface JobTokenConfig {
  token: string;
  projectId: number;
  user: GitlabUser;
}

export interface ProjectConfig {
  id: number;
  path: string;
}

export interface NoteRecord {
  id: number;
  type: null;
  body: string;
  attachment: null;
  author: GitlabUser & { state: string; locked: boolean; avatar_url: string; web_url: string };
  created_at: string;
  updated_at: string;
  system: boolean;
  noteable_id: number;
  noteable_type: 'MergeRequest';
  project_id: number;
  resolvable: boolean;
  confidential: boolean;
  internal: boolean;
  noteable_iid: number;
  commands_changes: Record<string, never>;
}

export interface MergeRequestRecord {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  state: 'opened' | 'closed' | 'merged' | 'locked';
  source_branch: string;
  target_branch: string;
  web_url: string;
  notes: NoteRecord[];
}

export interface EnvironmentRecord {
  id: number;
  name: string;
  slug: string;
  external_url: string | null;
  state: 'available' | 'stopping' | 'stopped';
  tier: string;
  project_id: number;
}

export interface LoggedGitlabRequest {
  method: string;
  /** Path without the query, e.g. /api/v4/projects/7/merge_requests/3/notes. */
  path: string;
  query: Record<string, string>;
  auth: 'private' | 'bearer' | 'job' | 'none';
  /** Query and body parameters together, as the route saw them (set once authenticated). */
  params?: Record<string, string>;
  time: number;
  faulted: boolean;
  status: number | null;
}

export interface GitlabFaults {
  /** The next `n` requests (of `method`, when given) are answered with `status` (default 500) and GitLab's error body. */
  failNext(n: number, status?: number, only?: { method?: string }): void;
  /** Destroy the socket of the next `n` requests (of `method`, when given): a connection reset. */
  resetNext(n: number, only?: { method?: string }): void;
  clearFaults(): void;
}

export interface GitlabServer extends GitlabFaults {
  /** What CI_SERVER_URL is set to: http://127.0.0.1:PORT */
  url: string;
  port: number;
  requests: LoggedGitlabRequest[];
  addMergeRequest(projectId: number, mr: { iid: number; state?: MergeRequestRecord['state']; title?: string; sourceBranch?: string }): MergeRequestRecord;
  mergeRequest(projectId: number, iid: number): MergeRequestRecord;
  /** Adds a note as `author` (system notes are GitLab's "changed the description" lines). */
  addNote(projectId: number, iid: number, body: string, author: GitlabUser, options?: { system?: boolean }): NoteRecord;
  addEnvironment(projectId: number, env: { name: string; state?: EnvironmentRecord['state']; external_url?: string }): EnvironmentRecord;
  environments(projectId: number): EnvironmentRecord[];
  close(): Promise<void>;
}

export interface GitlabServerOptions {
  projects: ProjectConfig[];
  privateTokens?: PrivateTokenConfig[];
  jobTokens?: JobTokenConfig[];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(JSON.stringify(body));
  }
}

const notFound = (what = '404 Not found') => new ApiError(404, { message: what });

// A fixed clock, one second per created object: stable for assertions and sort order.
const EPOCH = Date.parse('2025-01-01T00:00:00.000Z');

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function startGitlabServer(options: GitlabServerOptions): Promise<GitlabServer> {
  const projects = new Map<number, { config: ProjectConfig; mrs: Map<number, MergeRequestRecord>; envs: EnvironmentRecord[] }>();
  for (const p of options.projects) projects.set(p.id, { config: p, mrs: new Map(), envs: [] });
  const requests: LoggedGitlabRequest[] = [];
  const faults = { failCount: 0, failStatus: 500, failMethod: '', resetCount: 0, resetMethod: '' };
  let nextId = 1000;
  let tick = 0;
  const now = () => new Date(EPOCH + 1000 * tick++).toISOString();
  let baseUrl = '';

  const authorOf = (u: GitlabUser): NoteRecord['author'] => ({
    ...u,
    state: 'active',
    locked: false,
    avatar_url: `${baseUrl}/uploads/-/system/user/avatar/${u.id}/avatar.png`,
    web_url: `${baseUrl}/${u.username}`,
  });

  function project(idOrPath: string) {
    const decoded = decodeURIComponent(idOrPath);
    for (const p of projects.values()) if (String(p.config.id) === decoded || p.config.path === decoded) return p;
    throw notFound('404 Project Not Found');
  }

  function mrOf(p: ReturnType<typeof project>, iid: string) {
    const mr = p.mrs.get(Number(iid));
    if (!mr || !/^\d+$/.test(iid)) throw notFound();
    return mr;
  }

  function mrJson(p: ReturnType<typeof project>, mr: MergeRequestRecord) {
    const { notes: _notes, ...rest } = mr;
    return {
      ...rest,
      description: '',
      created_at: new Date(EPOCH).toISOString(),
      updated_at: new Date(EPOCH).toISOString(),
      merged_at: mr.state === 'merged' ? new Date(EPOCH).toISOString() : null,
      closed_at: mr.state === 'closed' ? new Date(EPOCH).toISOString() : null,
      source_project_id: p.config.id,
      target_project_id: p.config.id,
      draft: false,
      work_in_progress: false,
      merge_status: 'can_be_merged',
      detailed_merge_status: 'mergeable',
      sha: '0123456789abcdef0123456789abcdef01234567',
      references: { short: `!${mr.iid}`, relative: `!${mr.iid}`, full: `${p.config.path}!${mr.iid}` },
      user_notes_count: mr.notes.filter((n) => !n.system).length,
      labels: [],
      author: authorOf({ id: 1, username: 'root', name: 'Administrator' }),
    };
  }

  /** GitLab's offset pagination over `items`, headers included. */
  function paginate<T>(res: ServerResponse, path: string, query: Record<string, string>, items: T[]): T[] {
    const perPage = Math.min(100, Math.max(1, Number(query.per_page) || 20));
    const page = Math.max(1, Number(query.page) || 1);
    const totalPages = Math.max(1, Math.ceil(items.length / perPage));
    const linkTo = (n: number) => {
      const q = new URLSearchParams({ ...query, page: String(n), per_page: String(perPage) });
      return `${baseUrl}${path}?${q.toString()}`;
    };
    const links = [];
    if (page > 1) links.push(`<${linkTo(page - 1)}>; rel="prev"`);
    if (page < totalPages) links.push(`<${linkTo(page + 1)}>; rel="next"`);
    links.push(`<${linkTo(1)}>; rel="first"`, `<${linkTo(totalPages)}>; rel="last"`);
    res.setHeader('link', links.join(', '));
    res.setHeader('x-page', String(page));
    res.setHeader('x-per-page', String(perPage));
    res.setHeader('x-total', String(items.length));
    res.setHeader('x-total-pages', String(totalPages));
    res.setHeader('x-next-page', page < totalPages ? String(page + 1) : '');
    res.setHeader('x-prev-page', page > 1 ? String(page - 1) : '');
    return items.slice((page - 1) * perPage, page * perPage);
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'max-age=0, private, must-revalidate',
      'x-request-id': `req-${nextId++}`,
    });
    res.end(text);
  }

  type Caller = { kind: 'private' | 'bearer'; user: GitlabUser } | { kind: 'job'; user: GitlabUser; projectId: number } | { kind: 'none' };

  function caller(req: IncomingMessage): Caller {
    const privateToken = header(req, 'private-token');
    const bearer = /^Bearer (.+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
    const jobToken = header(req, 'job-token');
    const given = privateToken ?? bearer;
    if (given !== undefined) {
      const t = options.privateTokens?.find((p) => p.token === given);
      if (!t) throw new ApiError(401, { message: '401 Unauthorized' });
      return { kind: privateToken !== undefined ? 'private' : 'bearer', user: t.user };
    }
    if (jobToken !== undefined) {
      const t = options.jobTokens?.find((j) => j.token === jobToken);
      if (!t) throw new ApiError(401, { message: '401 Unauthorized' });
      return { kind: 'job', user: t.user, projectId: t.projectId };
    }
    return { kind: 'none' };
  }

  function params(req: IncomingMessage, body: Buffer, query: Record<string, string>): Record<string, string> {
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim();
    if (body.length === 0) return query;
    if (type === 'application/json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new ApiError(400, { message: '400 Bad request - Invalid JSON' });
      }
      return { ...query, ...Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)])) };
    }
    if (type === 'application/x-www-form-urlencoded') return { ...query, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
    return query;
  }

  async function route(req: IncomingMessage, res: ServerResponse, entry: LoggedGitlabRequest, body: Buffer): Promise<void> {
    const { path, query, method } = entry;
    const m = /^\/api\/v4\/projects\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) throw notFound('404 Not Found');
    const who = caller(req);
    entry.auth = who.kind;
    const p = project(m[1]!);
    const rest = m[2] ?? '';
    const isEnvRoute = rest.startsWith('/environments');
    if (who.kind === 'none') throw new ApiError(401, { message: '401 Unauthorized' });
    if (who.kind === 'job') {
      // GitLab ignores a job token on routes without `job_token_allowed`: unauthenticated.
      if (!isEnvRoute) throw new ApiError(401, { message: '401 Unauthorized' });
      if (who.projectId !== p.config.id) {
        throw new ApiError(403, {
          message: `403 Forbidden - Authentication by CI/CD job token not allowed from project ${who.projectId} to ${p.config.path}.`,
        });
      }
    }
    const input = params(req, body, query);
    entry.params = input;
    const mrPath = /^\/merge_requests\/([^/]+)$/.exec(rest);
    const notesPath = /^\/merge_requests\/([^/]+)\/notes$/.exec(rest);
    const notePath = /^\/merge_requests\/([^/]+)\/notes\/([^/]+)$/.exec(rest);
    const stopPath = /^\/environments\/(\d+)\/stop$/.exec(rest);

    if (method === 'GET' && rest === '/merge_requests') {
      const state = query.state ?? 'all';
      if (!['opened', 'closed', 'merged', 'locked', 'all'].includes(state)) throw new ApiError(400, { error: 'state does not have a valid value' });
      const all = [...p.mrs.values()].filter((mr) => state === 'all' || mr.state === state).sort((a, b) => b.iid - a.iid);
      return send(
        res,
        200,
        paginate(res, path, query, all).map((mr) => mrJson(p, mr)),
      );
    }
    if (method === 'GET' && mrPath) return send(res, 200, mrJson(p, mrOf(p, mrPath[1]!)));
    if (notesPath) {
      const mr = mrOf(p, notesPath[1]!);
      if (method === 'GET') {
        const sort = query.sort ?? 'desc';
        const orderBy = query.order_by ?? 'created_at';
        if (!['asc', 'desc'].includes(sort)) throw new ApiError(400, { error: 'sort does not have a valid value' });
        if (!['created_at', 'updated_at'].includes(orderBy)) throw new ApiError(400, { error: 'order_by does not have a valid value' });
        const key = (n: NoteRecord) => `${n[orderBy as 'created_at' | 'updated_at']}#${String(n.id).padStart(10, '0')}`;
        const sorted = [...mr.notes].sort((a, b) => (key(a) < key(b) ? -1 : 1) * (sort === 'asc' ? 1 : -1));
        return send(res, 200, paginate(res, path, query, sorted));
      }
      if (method === 'POST') {
        if (!input.body) throw new ApiError(400, { error: 'body is missing' });
        const note = addNote(p.config.id, mr.iid, input.body, who.user);
        return send(res, 201, note);
      }
    }
    if (notePath) {
      const mr = mrOf(p, notePath[1]!);
      const note = mr.notes.find((n) => String(n.id) === notePath[2]);
      if (!note) throw notFound('404 Note Not Found');
      if (method === 'GET') return send(res, 200, note);
      if (method === 'PUT') {
        if (note.author.id !== who.user.id) throw new ApiError(403, { message: '403 Forbidden' });
        if (input.body === undefined) throw new ApiError(400, { error: 'body is missing' });
        note.body = input.body;
        note.updated_at = now();
        return send(res, 200, note);
      }
    }
    if (method === 'GET' && rest === '/environments') {
      const list = p.envs.filter(
        (e) => (!query.name || e.name === query.name) && (!query.states || e.state === query.states) && (!query.search || e.name.includes(query.search)),
      );
      return send(res, 200, paginate(res, path, query, list));
    }
    if (method === 'POST' && stopPath) {
      const env = p.envs.find((e) => e.id === Number(stopPath[1]));
      if (!env) throw notFound();
      env.state = 'stopped';
      return send(res, 200, env);
    }
    throw notFound('404 Not Found');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const entry: LoggedGitlabRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      auth: 'none',
      time: Date.now(),
      faulted: false,
      status: null,
    };
    requests.push(entry);
    const body = await readBody(req);
    res.on('finish', () => (entry.status = res.statusCode));
    if (faults.resetCount > 0 && (!faults.resetMethod || faults.resetMethod === entry.method)) {
      faults.resetCount--;
      entry.faulted = true;
      req.socket.destroy();
      return;
    }
    if (faults.failCount > 0 && (!faults.failMethod || faults.failMethod === entry.method)) {
      faults.failCount--;
      entry.faulted = true;
      return send(res, faults.failStatus, { message: `${faults.failStatus} Internal Server Error` });
    }
    try {
      await route(req, res, entry, body);
    } catch (e) {
      if (e instanceof ApiError) send(res, e.status, e.body);
      else send(res, 500, { message: '500 Internal Server Error' });
    }
  }

  function addNote(projectId: number, iid: number, body: string, author: GitlabUser, opts: { system?: boolean } = {}): NoteRecord {
    const mr = api.mergeRequest(projectId, iid);
    const at = now();
    const note: NoteRecord = {
      id: nextId++,
      type: null,
      body,
      attachment: null,
      author: authorOf(author),
      created_at: at,
      updated_at: at,
      system: opts.system ?? false,
      noteable_id: mr.id,
      noteable_type: 'MergeRequest',
      project_id: projectId,
      resolvable: false,
      confidential: false,
      internal: false,
      noteable_iid: iid,
      commands_changes: {},
    };
    mr.notes.push(note);
    return note;
  }

  const listener = await listenOnLoopback(handle);
  const port = listener.port;
  baseUrl = listener.url;

  const faultApi: GitlabFaults = {
    failNext(n, status = 500, only = {}) {
      faults.failCount = n;
      faults.failStatus = status;
      faults.failMethod = only.method ?? '';
    },
    resetNext(n, only = {}) {
      faults.resetCount = n;
      faults.resetMethod = only.method ?? '';
    },
    clearFaults() {
      Object.assign(faults, { failCount: 0, failStatus: 500, failMethod: '', resetCount: 0, resetMethod: '' });
    },
  };

  const api: GitlabServer = {
    url: baseUrl,
    port,
    requests,
    ...faultApi,
    addMergeRequest(projectId, mr) {
      const p = projects.get(projectId);
      if (!p) throw new Error(`gitlab-server: no project ${projectId}`);
      const record: MergeRequestRecord = {
        id: nextId++,
        iid: mr.iid,
        project_id: projectId,
        title: mr.title ?? `Change ${mr.iid}`,
        state: mr.state ?? 'opened',
        source_branch: mr.sourceBranch ?? `feature-${mr.iid}`,
        target_branch: 'main',
        web_url: `${baseUrl}/${p.config.path}/-/merge_requests/${mr.iid}`,
        notes: [],
      };
      p.mrs.set(mr.iid, record);
      return record;
    },
    mergeRequest(projectId, iid) {
      const mr = projects.get(projectId)?.mrs.get(iid);
      if (!mr) throw new Error(`gitlab-server: no merge request !${iid} in project ${projectId}`);
      return mr;
    },
    addNote: (projectId, iid, body, author, opts) => addNote(projectId, iid, body, author, opts),
    addEnvironment(projectId, env) {
      const p = projects.get(projectId);
      if (!p) throw new Error(`gitlab-server: no project ${projectId}`);
      const record: EnvironmentRecord = {
        id: nextId++,
        name: env.name,
        slug: env.name.replace(/[^a-z0-9]+/g, '-'),
        external_url: env.external_url ?? null,
        state: env.state ?? 'available',
        tier: 'development',
        project_id: projectId,
      };
      p.envs.push(record);
      return record;
    },
    environments(projectId) {
      return projects.get(projectId)?.envs ?? [];
    },
    close: listener.close,
  };
  return api;
}
