// The four kinds of service Gantry runs or binds, as their official images and their clients know
// them: the default image, the port, where the data lives, the environment variables the image
// reads to initialise itself, and the names the app's drivers conventionally read.
import type { Resources } from '../config/schema.js';
import type { EnvRole, ServiceKind } from './types.js';

export interface KindFacts {
  /** The official image's name (Docker Hub library); the tag is the service's version. */
  image: string;
  port: number;
  /** Where the image keeps its data: the volume is mounted here. */
  dataDir: string;
  /** URL scheme of the connection string. */
  scheme: string;
  /** Roles the kind has (redis has no user or database). */
  roles: readonly EnvRole[];
  /** Default environment variable names, by role. */
  envNames: Record<EnvRole, string>;
  /** Requests and limits of an instance when the service sets none (ECI bills 2 vCPU / 4 GiB without requests). */
  resources: Resources;
  /** Seed files the image runs from /docker-entrypoint-initdb.d when its data is new; undefined: no seed files. */
  seedFiles: RegExp | undefined;
}

const sqlRoles = ['url', 'host', 'port', 'user', 'password', 'database'] as const;

export const KINDS: Record<ServiceKind, KindFacts> = {
  mysql: {
    image: 'mysql',
    port: 3306,
    dataDir: '/var/lib/mysql',
    scheme: 'mysql',
    roles: sqlRoles,
    envNames: {
      url: 'DATABASE_URL',
      host: 'MYSQL_HOST',
      port: 'MYSQL_PORT',
      user: 'MYSQL_USER',
      password: 'MYSQL_PASSWORD',
      database: 'MYSQL_DATABASE',
    },
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    seedFiles: /\.(sql|sql\.gz|sql\.xz|sql\.zst|sh)$/,
  },
  postgresql: {
    image: 'postgres',
    port: 5432,
    dataDir: '/var/lib/postgresql/data',
    scheme: 'postgresql',
    roles: sqlRoles,
    envNames: { url: 'DATABASE_URL', host: 'PGHOST', port: 'PGPORT', user: 'PGUSER', password: 'PGPASSWORD', database: 'PGDATABASE' },
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    seedFiles: /\.(sql|sql\.gz|sql\.xz|sql\.zst|sh)$/,
  },
  mongodb: {
    image: 'mongo',
    port: 27017,
    dataDir: '/data/db',
    scheme: 'mongodb',
    roles: sqlRoles,
    envNames: {
      url: 'MONGODB_URI',
      host: 'MONGODB_HOST',
      port: 'MONGODB_PORT',
      user: 'MONGODB_USER',
      password: 'MONGODB_PASSWORD',
      database: 'MONGODB_DATABASE',
    },
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    seedFiles: /\.(js|sh)$/,
  },
  redis: {
    image: 'redis',
    port: 6379,
    dataDir: '/data',
    scheme: 'redis',
    roles: ['url', 'host', 'port', 'password'],
    envNames: { url: 'REDIS_URL', host: 'REDIS_HOST', port: 'REDIS_PORT', user: 'REDIS_USER', password: 'REDIS_PASSWORD', database: 'REDIS_DATABASE' },
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    seedFiles: undefined,
  },
};

/** The connection URL from its parts, as each kind's drivers read it (values already URL-safe). */
export function connectionUrl(kind: ServiceKind, p: { user?: string; password: string; host: string; port: string; database?: string }): string {
  const facts = KINDS[kind];
  switch (kind) {
    case 'redis':
      return `${facts.scheme}://:${p.password}@${p.host}:${p.port}/0`;
    case 'mongodb':
      // The root user is created in the admin database: authSource says where to authenticate.
      return `${facts.scheme}://${p.user}:${p.password}@${p.host}:${p.port}/${p.database}?authSource=admin`;
    default:
      return `${facts.scheme}://${p.user}:${p.password}@${p.host}:${p.port}/${p.database}`;
  }
}
