// What gantry init proposes for services: from the drivers in package.json (and Prisma's schema),
// the services: block for previews, the review bindings and, commented out, the managed ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { createCtx } from '../../../src/context.js';
import type { PackageJson, ProjectFacts } from '../../../src/init/detect.js';
import { renderGantryYaml } from '../../../src/init/files.js';
import { initRepository } from '../../../src/init/init.js';
import { detectServices, servicesLine } from '../../../src/init/services.js';
import { createLogger } from '../../../src/log/logger.js';

function facts(pkg: PackageJson, files: Record<string, string> = {}): Pick<ProjectFacts, 'pkg' | 'read' | 'list'> {
  return { pkg, read: (f) => files[f], list: () => Object.keys(files) };
}

const prismaSchema = (provider: string, url = 'env("DATABASE_URL")') => `generator client {
  provider = "prisma-client-js"
}

// the database
datasource db {
  provider = "${provider}"
  url      = ${url}
}

model User {
  id    Int    @id @default(autoincrement())
  email String @unique
}
`;

const plan = (services: ReturnType<typeof detectServices>['services']) => ({
  app: 'shop',
  port: 3000,
  healthPath: '/healthz',
  frontend: undefined,
  services,
});

describe('detectServices', () => {
  test('prisma with a postgresql datasource reading env("DATABASE_URL"): a postgresql db with the default env names', () => {
    const d = detectServices(
      facts({ dependencies: { '@prisma/client': '^5' }, devDependencies: { prisma: '^5' } }, { 'prisma/schema.prisma': prismaSchema('postgresql') }),
    );
    expect(d.services).toEqual([{ name: 'db', kind: 'postgresql', version: '16', from: 'prisma/schema.prisma provider "postgresql"' }]);
    expect(d.notes).toEqual([]);
    expect(servicesLine(d)).toBe('services: postgresql (from prisma/schema.prisma provider "postgresql")');
  });

  test('a prisma url from another variable becomes the url env name; the schema may be named in package.json', () => {
    const d = detectServices(
      facts(
        { dependencies: { '@prisma/client': '^5' }, prisma: { schema: 'db/schema.prisma' } },
        { 'db/schema.prisma': prismaSchema('mysql', 'env("SHOP_DB_URL")') },
      ),
    );
    expect(d.services).toEqual([{ name: 'db', kind: 'mysql', version: '8.0', from: 'db/schema.prisma provider "mysql"', env: { url: 'SHOP_DB_URL' } }]);
  });

  test('prisma with sqlite needs no service and says so; an unreadable schema is said too', () => {
    const sqlite = detectServices(facts({ devDependencies: { prisma: '^5' } }, { 'prisma/schema.prisma': prismaSchema('sqlite', '"file:./dev.db"') }));
    expect(sqlite.services).toEqual([]);
    expect(sqlite.notes).toEqual(['prisma/schema.prisma provider "sqlite": a file, no service needed']);
    const missing = detectServices(facts({ dependencies: { '@prisma/client': '^5' } }));
    expect(missing.services).toEqual([]);
    expect(missing.notes).toEqual(['prisma found, but no readable prisma/schema.prisma names its datasource provider: add services: yourself']);
  });

  test('mongoose and ioredis: mongo and cache', () => {
    const d = detectServices(facts({ dependencies: { mongoose: '^8', ioredis: '^5', express: '^4' } }));
    expect(d.services).toEqual([
      { name: 'mongo', kind: 'mongodb', version: '7', from: 'mongoose' },
      { name: 'cache', kind: 'redis', version: '7', from: 'ioredis' },
    ]);
    expect(servicesLine(d)).toBe('services: mongodb (from mongoose), redis (from ioredis)');
  });

  test('mysql2 and redis, and several packages of one kind make one service', () => {
    expect(servicesLine(detectServices(facts({ dependencies: { mysql2: '^3', redis: '^4' } })))).toBe('services: mysql (from mysql2), redis (from redis)');
    expect(detectServices(facts({ dependencies: { mongodb: '^6', mongoose: '^8' } })).services).toEqual([
      { name: 'mongo', kind: 'mongodb', version: '7', from: 'mongodb, mongoose' },
    ]);
  });

  test('knex with pg: postgresql from the driver next to it', () => {
    const d = detectServices(facts({ dependencies: { knex: '^3', pg: '^8' } }));
    expect(d.services).toEqual([{ name: 'db', kind: 'postgresql', version: '16', from: 'knex with pg' }]);
    expect(d.notes).toEqual([]);
  });

  test('typeorm without a driver: no service, and init says to add it', () => {
    const d = detectServices(facts({ dependencies: { typeorm: '^0.3', 'reflect-metadata': '^0.2' } }));
    expect(d.services).toEqual([]);
    expect(d.notes).toEqual(['typeorm found, but no driver: add services: yourself']);
    expect(servicesLine(d)).toBe('services: none (typeorm found, but no driver: add services: yourself)');
  });

  test('sequelize with sqlite3 needs no service', () => {
    const d = detectServices(facts({ dependencies: { sequelize: '^6', sqlite3: '^5' } }));
    expect(d.services).toEqual([]);
    expect(d.notes).toEqual(['sequelize with sqlite3: SQLite is a file, no service needed']);
  });

  test('no driver at all: no services', () => {
    const d = detectServices(facts({ dependencies: { express: '^4' } }));
    expect(d).toEqual({ services: [], notes: [] });
    expect(servicesLine(d)).toBe('services: none (no database or cache driver in package.json)');
  });

  test('mysql and postgresql both: the second SQL kind gets its own key and url name, so there are not two DATABASE_URLs', () => {
    const both = detectServices(facts({ dependencies: { pg: '^8', mysql2: '^3' } }));
    expect(both.services).toEqual([
      { name: 'db', kind: 'mysql', version: '8.0', from: 'mysql2' },
      { name: 'postgres', kind: 'postgresql', version: '16', from: 'pg', env: { url: 'POSTGRESQL_URL' } },
    ]);
    // Prisma's database is the one reading DATABASE_URL.
    const prismaFirst = detectServices(
      facts({ dependencies: { '@prisma/client': '^5', mysql2: '^3' } }, { 'prisma/schema.prisma': prismaSchema('postgresql') }),
    );
    expect(prismaFirst.services.map((s) => [s.name, s.kind, s.env])).toEqual([
      ['db', 'postgresql', undefined],
      ['mysql', 'mysql', { url: 'MYSQL_URL' }],
    ]);
  });
});

describe('the gantry.yaml init writes', () => {
  test('declares the services, binds every one to an instance for review, and binds staging and production to CI variables', () => {
    const d = detectServices(facts({ dependencies: { mysql2: '^3', ioredis: '^5', pg: '^8' } }));
    const text = renderGantryYaml(plan(d.services));
    const doc = YAML.parse(text) as Record<string, any>;
    expect(doc.services).toEqual({
      db: { kind: 'mysql', version: '8.0' },
      postgres: { kind: 'postgresql', version: '16', env: { url: 'POSTGRESQL_URL' } },
      cache: { kind: 'redis', version: '7' },
    });
    expect(doc.environments.review.services).toEqual({ db: 'instance', postgres: 'instance', cache: 'instance' });
    // Staging and production bind every service to a CI variable named after the env name it fills.
    expect(doc.environments.staging.services).toEqual({
      db: { variable: 'STAGING_DATABASE_URL' },
      postgres: { variable: 'STAGING_POSTGRESQL_URL' },
      cache: { variable: 'STAGING_REDIS_URL' },
    });
    expect(doc.environments.production.services.cache).toEqual({ variable: 'PRODUCTION_REDIS_URL' });
  });

  test('a prisma url name and mongodb: the variable is named after the env name the app reads', () => {
    const d = detectServices(facts({ dependencies: { '@prisma/client': '^5' } }, { 'prisma/schema.prisma': prismaSchema('mongodb') }));
    expect(d.services).toEqual([
      { name: 'mongo', kind: 'mongodb', version: '7', from: 'prisma/schema.prisma provider "mongodb"', env: { url: 'DATABASE_URL' } },
    ]);
    const text = renderGantryYaml(plan(d.services));
    expect((YAML.parse(text) as Record<string, any>).services).toEqual({ mongo: { kind: 'mongodb', version: '7', env: { url: 'DATABASE_URL' } } });
    expect(text).toContain('      mongo: { variable: STAGING_DATABASE_URL }\n');
    expect(text).toContain('      mongo: { variable: PRODUCTION_DATABASE_URL }\n');
  });

  test('without services the file has no services: anywhere', () => {
    const text = renderGantryYaml(plan([]));
    expect(text).not.toContain('services:');
    expect(renderGantryYaml({ app: 'shop', port: 3000, healthPath: '/healthz', frontend: undefined })).toBe(text);
  });
});

describe('gantry init', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  async function dryInit(pkg: PackageJson) {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-init-services-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    writeFileSync(path.join(dir, 'server.js'), "app.get('/healthz', h); app.listen(process.env.PORT || 3000);\n");
    const lines: string[] = [];
    const ctx = createCtx({ cwd: dir, dryRun: true, env: {}, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
    const result = await initRepository(ctx, { dir, force: false });
    return { result, stderr: lines.join('') };
  }

  test('says when it found no driver, and proposes no services', async () => {
    const { result, stderr } = await dryInit({ name: 'api', dependencies: { express: '^4' } });
    expect(stderr).toContain('services: none (no database or cache driver in package.json)\n');
    expect(result.services).toEqual([]);
  });

  // The generated file is validated before init writes it.
  test('prints what it found and the gantry.yaml it would write validates', async () => {
    const { result, stderr } = await dryInit({ name: 'shop', dependencies: { mysql2: '^3', ioredis: '^5', typeorm: '^0.3' } });
    expect(stderr).toContain('services: mysql (from typeorm with mysql2), redis (from ioredis)\n');
    expect(result.services.map((s) => s.name)).toEqual(['db', 'cache']);
  });
});
