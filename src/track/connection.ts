// Why an app that crashes (or never gets ready) cannot use its database: the errors the Node
// drivers print (mysql2, pg, mongodb/mongoose, ioredis/redis, Prisma) as rules in a table, each
// matched to a declared service by the address it names (host, else port), else by the kind the
// message belongs to, and turned into the likely cause for that service's binding. Pure: the
// tracker gives it the log tail it already read. Nothing of the log is repeated but addresses,
// a port, a user or database name of a safe shape, so a password in the log never comes out.
import type { ServiceKind } from '../services/types.js';

/** What the tracker knows of a declared service: enough to tell which one a log line is about. */
export interface ServiceEndpointHint {
  /** Its key under services:, e.g. db. */
  service: string;
  kind: ServiceKind;
  port: number;
  binding: 'instance' | 'variable' | 'secret';
  /** Addresses it is known by (the instance's ClusterIP, a managed host), to tell apart services sharing a port. */
  hosts?: string[] | undefined;
  /** For an instance: the Secret holding its password (<app>-<service>). */
  secret?: string | undefined;
}

export interface ConnectionContext {
  /** The Secret an instance's password comes from (<app>-<service>), when the service does not say. */
  secret?: string | undefined;
}

type Cause = 'refused' | 'timeout' | 'unreachable' | 'notfound' | 'auth' | 'noauth' | 'nodb' | 'hba';

interface Rule {
  re: RegExp;
  cause: Cause;
  /** The kind of server whose error this is, when the message says. */
  kind?: ServiceKind;
  /** Which groups of `re` hold the host, port, and a user or database name. */
  host?: number;
  port?: number;
  name?: number;
}

// First match of a line wins: the rules with an address come before the bare codes.
const RULES: Rule[] = [
  { re: /\bconnect ECONNREFUSED ([0-9A-Za-z.:_-]+):(\d{1,5})\b/, cause: 'refused', host: 1, port: 2 },
  { re: /\bconnect ETIMEDOUT ([0-9A-Za-z.:_-]+):(\d{1,5})\b/, cause: 'timeout', host: 1, port: 2 },
  { re: /\bconnect E(?:HOST|NET)UNREACH ([0-9A-Za-z.:_-]+):(\d{1,5})\b/, cause: 'unreachable', host: 1, port: 2 },
  // Prisma P1001
  { re: /Can't reach database server at `([0-9A-Za-z.:_-]+)`:`(\d{1,5})`/, cause: 'unreachable', host: 1, port: 2 },
  { re: /\bgetaddrinfo (?:ENOTFOUND|EAI_AGAIN) ([0-9A-Za-z._-]+)/, cause: 'notfound', host: 1 },
  { re: /\bAccess denied for user '([^']*)'@/, cause: 'auth', kind: 'mysql', name: 1 },
  { re: /\bER_ACCESS_DENIED_ERROR\b/, cause: 'auth', kind: 'mysql' },
  { re: /\bUnknown database '([^']*)'/, cause: 'nodb', kind: 'mysql', name: 1 },
  { re: /\bpassword authentication failed for user "([^"]*)"/, cause: 'auth', kind: 'postgresql', name: 1 },
  { re: /\bdatabase "([^"]*)" does not exist/, cause: 'nodb', kind: 'postgresql', name: 1 },
  { re: /\bno pg_hba\.conf entry for host "([0-9A-Fa-f.:]+)"/, cause: 'hba', kind: 'postgresql', host: 1 },
  { re: /\bMongo\w*Error\b.*\bAuthentication failed|\bcodeName: '?AuthenticationFailed\b/, cause: 'auth', kind: 'mongodb' },
  { re: /\bMongo(?:Server)?SelectionError\b|\bServer selection timed out\b/, cause: 'timeout', kind: 'mongodb' },
  { re: /\bWRONGPASS\b|\bERR invalid password\b/, cause: 'auth', kind: 'redis' },
  { re: /\bNOAUTH\b/, cause: 'noauth', kind: 'redis' },
  // Prisma P1000
  { re: /Authentication failed against database server at `([0-9A-Za-z._-]+)`/, cause: 'auth', host: 1 },
  { re: /\bETIMEDOUT\b/, cause: 'timeout' },
  { re: /\bECONNREFUSED\b/, cause: 'refused' },
  { re: /\bE(?:HOST|NET)UNREACH\b/, cause: 'unreachable' },
];

/** The ports the kinds listen on by default: an address with one of them is that kind's server. */
const KIND_PORTS: Record<number, ServiceKind> = { 3306: 'mysql', 5432: 'postgresql', 27017: 'mongodb', 6379: 'redis' };
/** The variables an app reads by default, for the advice to read them (the catalogue's defaults). */
const DEFAULT_ENV: Record<ServiceKind, string> = {
  mysql: 'DATABASE_URL, or MYSQL_HOST and MYSQL_PORT',
  postgresql: 'DATABASE_URL, or PGHOST and PGPORT',
  mongodb: 'MONGODB_URI',
  redis: 'REDIS_URL',
};
const LOCAL = new Set(['127.0.0.1', '::1', 'localhost', '0.0.0.0', '::']);
const MAX_LINES = 3;

interface Finding {
  cause: Cause;
  kind?: ServiceKind | undefined;
  host?: string | undefined;
  port?: number | undefined;
  /** A user (auth) or database (nodb) name, only when of a harmless shape. */
  name?: string | undefined;
}

/**
 * Lines naming the service the app could not use and the likely cause, from its log tail;
 * undefined when the log shows no such error or no service is declared.
 */
export function explainConnectionFailure(logLines: string[], services: ServiceEndpointHint[], context: ConnectionContext = {}): string[] | undefined {
  if (services.length === 0) return undefined;
  const findings = logLines.map(findingOf).filter((f): f is Finding => f !== undefined);
  // A bare code (`code: 'ECONNREFUSED'` under the error's message) adds nothing to the same cause with its address.
  const bare = (f: Finding) => f.host === undefined && f.port === undefined && f.kind === undefined;
  const told = findings.filter((f) => !bare(f) || !findings.some((g) => !bare(g) && g.cause === f.cause));
  const out: string[] = [];
  const seen = new Set<string>();
  for (const finding of told) {
    const text = explain(finding, services, context);
    if (!text || seen.has(text.key)) continue;
    seen.add(text.key);
    out.push(text.line);
    if (out.length >= MAX_LINES) break;
  }
  return out.length ? out : undefined;
}

function findingOf(line: string): Finding | undefined {
  for (const rule of RULES) {
    const m = rule.re.exec(line);
    if (!m) continue;
    const port = rule.port ? Number(m[rule.port]) : undefined;
    return {
      cause: rule.cause,
      kind: rule.kind,
      host: rule.host ? safe(m[rule.host]) : undefined,
      port: port !== undefined && port >= 1 && port <= 65535 ? port : undefined,
      name: rule.name ? safe(m[rule.name]) : undefined,
    };
  }
  return undefined;
}

/** A name or address repeated only when it cannot be (part of) a secret-bearing string. */
function safe(text: string | undefined): string | undefined {
  return text && /^[\w.:$-]{1,64}$/.test(text) ? text : undefined;
}

function explain(f: Finding, services: ServiceEndpointHint[], context: ConnectionContext): { key: string; line: string } | undefined {
  const addr = f.host !== undefined ? (f.port !== undefined ? `${f.host}:${f.port}` : f.host) : undefined;
  const portKind = f.port !== undefined ? KIND_PORTS[f.port] : undefined;
  const matched = match(f, services);

  if (f.host && LOCAL.has(f.host) && (matched.length || portKind)) {
    const target = matched[0] ?? services.find((s) => s.kind === portKind);
    if (target) {
      return {
        key: `local ${target.service}`,
        line: `the app connected to ${addr} (its own container), not to service ${target.service} (${target.kind}) — make it read the connection from the environment Gantry sets (by default ${DEFAULT_ENV[target.kind]})`,
      };
    }
  }
  if (matched.length === 0) {
    // A database's port that no declared service has: the app needs a service gantry.yaml lacks.
    const kind = f.kind ?? portKind;
    if (!kind || services.some((s) => s.kind === kind) || !addr) return undefined;
    return {
      key: `undeclared ${kind}`,
      line: `the app could not connect to ${addr} (a ${kind} port): ${what(f)} — gantry.yaml declares no ${kind} service: add one under services:`,
    };
  }
  const names = matched.map((s) => s.service).join(' or ');
  const kinds = [...new Set(matched.map((s) => s.kind))].join(' or ');
  // Among several candidates a managed one decides the advice: its causes are the user's to fix.
  const binding = matched.find((s) => s.binding !== 'instance')?.binding ?? 'instance';
  const shownAddr = f.cause === 'hba' ? undefined : addr;
  return {
    key: `${names} ${f.cause}`,
    line: `the app could not connect to service ${names} (${kinds}${shownAddr ? `, ${shownAddr}` : ''}): ${what(f)} — ${fix(f, binding, matched[0]!.kind, { ...context, ...(matched[0]!.secret ? { secret: matched[0]!.secret } : {}) })}`,
  };
}

/** The declared services a finding is about: by host, else port, else the kind its message belongs to, else the only one. */
function match(f: Finding, services: ServiceEndpointHint[]): ServiceEndpointHint[] {
  if (f.host) {
    const byHost = services.filter((s) => s.hosts?.includes(f.host!));
    if (byHost.length) return byHost;
  }
  if (f.port !== undefined) {
    let byPort = services.filter((s) => s.port === f.port);
    if (f.kind && byPort.some((s) => s.kind === f.kind)) byPort = byPort.filter((s) => s.kind === f.kind);
    if (byPort.length) return byPort;
    const kind = f.kind ?? KIND_PORTS[f.port];
    // A port of no database kind (an HTTP dependency) is not a service's.
    return kind ? services.filter((s) => s.kind === kind) : [];
  }
  if (f.kind) return services.filter((s) => s.kind === f.kind);
  // A bare code (ETIMEDOUT) or an unknown host: the one service there is, else every candidate.
  return services.length === 1 || f.cause !== 'notfound' ? services : [];
}

function what(f: Finding): string {
  switch (f.cause) {
    case 'refused':
      return 'connection refused';
    case 'timeout':
      return 'timed out';
    case 'unreachable':
      return 'no route to the host';
    case 'notfound':
      return 'the host name does not resolve';
    case 'auth':
      return f.name ? `the password of user ${f.name} was refused` : 'the password was refused';
    case 'noauth':
      return 'it sent no password (NOAUTH)';
    case 'nodb':
      return f.name ? `database ${f.name} does not exist` : 'the database does not exist';
    case 'hba':
      return `the server refuses connections from ${f.host ?? "the pods' address"} (no pg_hba.conf entry)`;
  }
}

function fix(f: Finding, binding: ServiceEndpointHint['binding'], kind: ServiceKind, context: ConnectionContext): string {
  const instance = binding === 'instance';
  const bound = binding === 'variable' ? 'the CI variable bound to it' : 'the Secret bound to it';
  switch (f.cause) {
    case 'refused':
      return instance
        ? 'the instance is not running or not ready'
        : `nothing listens at that address: check the host and port of the URL in ${bound}, and that the database is running`;
    case 'timeout':
      return instance
        ? 'the instance does not answer: a NetworkPolicy in the namespace may keep the app from it'
        : "for a managed database, add the pods' CIDR to its whitelist or security group (gantry doctor --env <env> runs the same check)";
    case 'unreachable':
      return instance
        ? "the instance's address is gone (its pod or Service was replaced): deploy again"
        : "the database must be reachable from the cluster's VPC (or through a NAT gateway), with the pods' CIDR in its whitelist or security group";
    case 'notfound':
      return instance
        ? "the cluster may have no DNS for Service names: use the host Gantry sets in the app's environment"
        : 'check the host of the URL bound to it; a private (VPC) endpoint resolves only inside its VPC';
    case 'auth': {
      if (!instance)
        return `the URL in ${bound} has a wrong user or password: correct ${binding === 'variable' ? 'the variable' : 'that Secret'} and deploy again`;
      const secret = context.secret ? `the Secret ${context.secret}` : "the instance's Secret (<app>-<service>)";
      const mongo = kind === 'mongodb' ? '; a MongoDB user is created in the admin database, so a URL of your own needs ?authSource=admin' : '';
      return `${secret} holds a stale password; for an instance, delete the preview (gantry stop) so it is made again${mongo}`;
    }
    case 'noauth':
      return 'connect with REDIS_URL, which carries the password, or give the client REDIS_PASSWORD';
    case 'nodb':
      return instance
        ? 'an instance creates only its own database (services.<name>.database) when it is new: make the app use the one in its environment, or delete the preview (gantry stop) so it is made again'
        : `create it on the server, or correct the database of the URL in ${bound}`;
    case 'hba':
      return instance
        ? 'the instance does not accept this user or address: delete the preview (gantry stop) so it is made again'
        : "add the pods' CIDR to the database's whitelist; if it requires SSL, add sslmode=require to the URL";
  }
}
