// What `gantry init` proposes for gantry.yaml `services:`: the databases and caches the app's
// drivers in package.json say it needs (Prisma's schema names its database; an ORM such as knex
// names none, the driver next to it does). Pure over ProjectFacts, like detect.ts; the YAML
// lines are written by files.ts.
import type { ServiceKind } from '../services/types.js';
import { KINDS } from '../services/catalog.js';
import type { ProjectFacts } from './detect.js';

export interface ProposedService {
  /** Its key under services: db (the SQL database), mongo, cache (redis); a second SQL kind: mysql or postgres. */
  name: string;
  kind: ServiceKind;
  /** The default image's tag. */
  version: string;
  /** What said so, for the user: "mysql2", "knex with pg", 'prisma/schema.prisma provider "postgresql"'. */
  from: string;
  /** Env name overrides, by role: only when the defaults would not do. */
  env?: { url: string };
}

export interface ServicesDetection {
  services: ProposedService[];
  /** What was found but proposes nothing: "typeorm found, but no driver: add services: yourself". */
  notes: string[];
}

export const DEFAULT_VERSIONS: Record<ServiceKind, string> = { mysql: '8.0', postgresql: '16', mongodb: '7', redis: '7' };

/** The app's URL variable for a kind (the catalogue's default); the managed binding's CI variable is named after it. */
const DEFAULT_URL_ENV = (kind: ServiceKind): string => KINDS[kind].envNames.url;

/** Driver packages and the kind of server they talk to. */
const DRIVERS: [string, ServiceKind][] = [
  ['mysql2', 'mysql'],
  ['mysql', 'mysql'],
  ['mariadb', 'mysql'],
  ['pg', 'postgresql'],
  ['postgres', 'postgresql'],
  ['pg-promise', 'postgresql'],
  ['mongodb', 'mongodb'],
  ['mongoose', 'mongodb'],
  ['ioredis', 'redis'],
  ['redis', 'redis'],
];
/** Drivers of databases that are files or that Gantry does not run: an ORM using them needs no service. */
const NO_SERVICE_DRIVERS: [string, string][] = [
  ['sqlite3', 'SQLite is a file, no service needed'],
  ['better-sqlite3', 'SQLite is a file, no service needed'],
  ['tedious', 'SQL Server is not a kind Gantry runs: bind it yourself'],
  ['oracledb', 'Oracle is not a kind Gantry runs: bind it yourself'],
];
/** ORMs and query builders that do not say which database they talk to. */
const ORMS = ['typeorm', 'sequelize', 'knex'];

const PRISMA_PROVIDERS: Record<string, ServiceKind> = { mysql: 'mysql', postgresql: 'postgresql', postgres: 'postgresql', mongodb: 'mongodb' };
const PRISMA_NO_SERVICE: Record<string, string> = {
  sqlite: 'a file, no service needed',
  sqlserver: 'SQL Server is not a kind Gantry runs: bind it yourself',
  cockroachdb: 'CockroachDB is not a kind Gantry runs: bind it yourself',
};

const SQL: ServiceKind[] = ['mysql', 'postgresql'];
const ORDER: ServiceKind[] = ['mysql', 'postgresql', 'mongodb', 'redis'];

export function detectServices(facts: Pick<ProjectFacts, 'pkg' | 'read' | 'list'>): ServicesDetection {
  const deps = { ...facts.pkg.dependencies, ...facts.pkg.devDependencies };
  const has = (name: string) => Object.hasOwn(deps, name);
  const notes: string[] = [];
  // kind -> what said so, in the order found; prisma's kind first (it reads its own url variable).
  const found = new Map<ServiceKind, { from: string[]; urlEnv?: string }>();
  const add = (kind: ServiceKind, from: string, urlEnv?: string) => {
    const entry = found.get(kind) ?? { from: [] };
    entry.from.push(from);
    if (urlEnv && !entry.urlEnv) entry.urlEnv = urlEnv;
    found.set(kind, entry);
  };

  let prismaKind: ServiceKind | undefined;
  if (has('prisma') || has('@prisma/client')) {
    const schema = prismaDatasource(facts);
    if (!schema) {
      notes.push('prisma found, but no readable prisma/schema.prisma names its datasource provider: add services: yourself');
    } else {
      const from = `${schema.file} provider "${schema.provider}"`;
      prismaKind = PRISMA_PROVIDERS[schema.provider];
      if (prismaKind) add(prismaKind, from, schema.urlEnv);
      else notes.push(`${from}: ${PRISMA_NO_SERVICE[schema.provider] ?? 'not a kind Gantry runs: bind it yourself'}`);
    }
  }

  const drivers = DRIVERS.filter(([pkg]) => has(pkg));
  const orms = ORMS.filter(has);
  const withOrm = orms.length ? `${orms.join(', ')} with ` : '';
  for (const [pkg, kind] of drivers) add(kind, kind === 'redis' ? pkg : `${withOrm}${pkg}`);
  const fileDrivers = NO_SERVICE_DRIVERS.filter(([pkg]) => has(pkg));
  if (orms.length) {
    const sqlDrivers = drivers.filter(([, kind]) => kind !== 'redis');
    if (fileDrivers.length && sqlDrivers.length === 0) for (const [pkg, why] of fileDrivers) notes.push(`${orms.join(', ')} with ${pkg}: ${why}`);
    else if (sqlDrivers.length === 0 && !prismaKind) notes.push(`${orms.join(', ')} found, but no driver: add services: yourself`);
  }

  const kinds = [...found.keys()].sort((a, b) => (a === prismaKind ? -1 : b === prismaKind ? 1 : ORDER.indexOf(a) - ORDER.indexOf(b)));
  let sqlSeen = 0;
  const services = kinds.map((kind): ProposedService => {
    const entry = found.get(kind)!;
    const service: ProposedService = { name: '', kind, version: DEFAULT_VERSIONS[kind], from: [...new Set(entry.from)].join(', ') };
    let url = entry.urlEnv;
    if (SQL.includes(kind)) {
      // One DATABASE_URL: the second SQL database gets its own name and variable.
      service.name = sqlSeen++ === 0 ? 'db' : kind === 'postgresql' ? 'postgres' : 'mysql';
      if (sqlSeen > 1 && !url) url = `${kind.toUpperCase()}_URL`;
    } else {
      service.name = kind === 'mongodb' ? 'mongo' : 'cache';
    }
    if (url && url !== DEFAULT_URL_ENV(kind)) service.env = { url };
    return service;
  });
  return { services, notes };
}

/** The URL variable a service's app reads: the override, else the kind's default. */
export function urlEnvName(service: Pick<ProposedService, 'kind' | 'env'>): string {
  return service.env?.url ?? DEFAULT_URL_ENV(service.kind);
}

/** What `gantry init` says: "services: mysql (from mysql2), redis (from ioredis)". */
export function servicesLine(d: ServicesDetection): string {
  if (d.services.length === 0) return `services: none (${d.notes.length ? d.notes.join('; ') : 'no database or cache driver in package.json'})`;
  return `services: ${d.services.map((s) => `${s.kind} (from ${s.from})`).join(', ')}`;
}

interface PrismaDatasource {
  file: string;
  provider: string;
  /** The variable of url = env("X"), when the url is read from one. */
  urlEnv?: string;
}

/** The datasource of the Prisma schema: package.json prisma.schema, prisma/schema.prisma, or a prisma/ schema folder. */
function prismaDatasource(facts: Pick<ProjectFacts, 'pkg' | 'read' | 'list'>): PrismaDatasource | undefined {
  const configured = facts.pkg.prisma?.schema;
  const candidates = [
    ...(typeof configured === 'string' ? [configured.replace(/^\.\//, '')] : []),
    'prisma/schema.prisma',
    'schema.prisma',
    ...facts.list().filter((f) => /^prisma\/.*\.prisma$/.test(f)),
  ];
  for (const file of [...new Set(candidates)]) {
    const text = facts.read(file);
    if (text === undefined) continue;
    // Comments are dropped: a commented-out provider is not the one used.
    const block = /^\s*datasource\s+\w+\s*\{([^}]*)\}/m.exec(text.replace(/\/\/.*$/gm, ''))?.[1];
    const provider = block && /\bprovider\s*=\s*"([^"]+)"/.exec(block)?.[1];
    if (!provider) continue;
    const urlEnv = /\burl\s*=\s*env\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)/.exec(block)?.[1];
    return { file, provider, ...(urlEnv ? { urlEnv } : {}) };
  }
  return undefined;
}
