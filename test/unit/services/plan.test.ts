// gantry.yaml services: resolved per environment, the app's env, the instances' objects and the
// rules validate applies (#14).
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type Config } from '../../../src/config/schema.js';
import { isGantryError } from '../../../src/errors.js';
import { renderManifests } from '../../../src/render/render.js';
import { buildView } from '../../../src/render/view.js';
import { connectionData, planServices, serviceEnv, servicesChecksum, urlParts } from '../../../src/services/plan.js';
import { generatePassword, serviceSecrets } from '../../../src/services/prepare.js';
import { checkServices } from '../../../src/services/rules.js';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { ciContext, digestImage } from '../../support/fixtures.js';

const base = `app: shop
registry: { pushHost: registry.cn-hangzhou.aliyuncs.com, namespace: acme }
backend: { env: { LOG_LEVEL: info } }
environments:
  staging:
    namespace: shop-staging
  production:
    cluster: ask
    namespace: shop
  review:
    domain: mr-{iid}.review.shop.example.com
`;

/** gantry.yaml through the schema only: the rules are what some tests look at. */
function config(extra: string, bound = false): Config {
  return configSchema.parse(YAML.parse(`${bound ? withBindings(base) : base}${extra}`));
}

const services = `services:
  db:
    kind: mysql
    version: "8.0"
    seed: { file: db/seed.sql }
  cache:
    kind: redis
    version: "7"
    image: registry-vpc.cn-hangzhou.aliyuncs.com/acme-mirror/redis:7.2
  docs:
    kind: mongodb
    version: "7"
    storage: 2Gi
    storageClass: alicloud-disk-essd
serviceMirror: registry-vpc.cn-hangzhou.aliyuncs.com/library
`;

function withBindings(text: string): string {
  // staging and production bind every service to a managed one; review keeps its default.
  return text
    .replace(
      /\n {2}staging:\n/,
      '\n  staging:\n    services: { db: { variable: STAGING_DB_URL }, cache: { variable: STAGING_REDIS_URL }, docs: { secret: mongo-conn, key: uri } }\n',
    )
    .replace(/\n {2}production:\n/, '\n  production:\n    services: { db: instance, cache: { variable: PROD_REDIS_URL }, docs: { secret: mongo-conn } }\n');
}

describe('services resolved for an environment', () => {
  const c = config(services, true);

  test('a preview runs every service as an instance, named <app>-<service>, from the mirror unless an image is given', () => {
    const plans = planServices(c, 'review');
    expect(plans.map((p) => [p.name, p.binding, p.instanceName, p.image, p.port])).toEqual([
      ['db', 'instance', 'shop-db', 'registry-vpc.cn-hangzhou.aliyuncs.com/library/mysql:8.0', 3306],
      ['cache', 'instance', 'shop-cache', 'registry-vpc.cn-hangzhou.aliyuncs.com/acme-mirror/redis:7.2', 6379],
      ['docs', 'instance', 'shop-docs', 'registry-vpc.cn-hangzhou.aliyuncs.com/library/mongo:7', 27017],
    ]);
    expect(plans[0]!.envNames).toEqual({
      url: 'DATABASE_URL',
      host: 'MYSQL_HOST',
      port: 'MYSQL_PORT',
      user: 'MYSQL_USER',
      password: 'MYSQL_PASSWORD',
      database: 'MYSQL_DATABASE',
    });
    expect(plans[1]!.envNames).toEqual({ url: 'REDIS_URL', host: 'REDIS_HOST', port: 'REDIS_PORT', password: 'REDIS_PASSWORD' });
  });

  test('staging and production bind as they say; an environment that says nothing is an error naming the field', () => {
    expect(planServices(c, 'staging').map((p) => p.binding)).toEqual(['variable', 'variable', 'secret']);
    expect(planServices(c, 'production').map((p) => p.binding)).toEqual(['instance', 'variable', 'secret']);
    const unbound = config(services);
    try {
      planServices(unbound, 'staging');
      throw new Error('no error');
    } catch (error) {
      expect(isGantryError(error) && error.code).toBe('E_CONFIG_INVALID');
      expect((error as Error).message).toContain('environments.staging.services.db is not set');
    }
  });

  test("an instance's env: references the kubelet expands, in order, and no password", () => {
    const env = serviceEnv(planServices(c, 'review'), 'shop', {});
    const db = env.slice(0, 6);
    expect(db).toEqual([
      { name: 'MYSQL_USER', value: 'shop' },
      { name: 'MYSQL_PASSWORD', valueFrom: { secretKeyRef: { name: 'shop-db', key: 'password' } } },
      { name: 'MYSQL_DATABASE', value: 'shop' },
      { name: 'MYSQL_HOST', value: '$(SHOP_DB_SERVICE_HOST)' },
      { name: 'MYSQL_PORT', value: '$(SHOP_DB_SERVICE_PORT)' },
      { name: 'DATABASE_URL', value: 'mysql://$(MYSQL_USER):$(MYSQL_PASSWORD)@$(MYSQL_HOST):$(MYSQL_PORT)/$(MYSQL_DATABASE)' },
    ]);
    // A $(VAR) only expands when VAR is defined before it.
    const names = env.map((e) => e.name);
    for (const [i, e] of env.entries()) {
      for (const ref of (e.value ?? '').matchAll(/\$\(([A-Z_]+)\)/g)) {
        if (ref[1]!.endsWith('_SERVICE_HOST') || ref[1]!.endsWith('_SERVICE_PORT')) continue;
        expect(names.indexOf(ref[1]!)).toBeGreaterThanOrEqual(0);
        expect(names.indexOf(ref[1]!)).toBeLessThan(i);
      }
    }
    expect(env.find((e) => e.name === 'REDIS_URL')!.value).toBe('redis://:$(REDIS_PASSWORD)@$(REDIS_HOST):$(REDIS_PORT)/0');
    expect(env.find((e) => e.name === 'MONGODB_URI')!.value).toBe(
      'mongodb://$(MONGODB_USER):$(MONGODB_PASSWORD)@$(MONGODB_HOST):$(MONGODB_PORT)/$(MONGODB_DATABASE)?authSource=admin',
    );
  });

  test("a managed binding's settings are keys of the connection Secret", () => {
    const plans = planServices(c, 'staging');
    const env = serviceEnv(plans, 'shop', { STAGING_DB_URL: 'mysql://a:b@h/d' });
    const name = `shop-services-${servicesChecksum(plans, { STAGING_DB_URL: 'mysql://a:b@h/d' }).slice(0, 10)}`;
    expect(env.find((e) => e.name === 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name, key: 'DATABASE_URL', optional: true } },
    });
    // Named by content: another URL is another Secret, so a failed deploy leaves the running pods' one as it was.
    const other = serviceEnv(plans, 'shop', { STAGING_DB_URL: 'mysql://a:c@h/d' }).find((e) => e.name === 'DATABASE_URL');
    expect(other!.valueFrom!.secretKeyRef.name).not.toBe(name);
    expect(env.every((e) => e.value === undefined)).toBe(true);
  });

  test('a managed URL gives every part, decoded; a wrong scheme or no host is E_SERVICE_URL', () => {
    const [db, cache, docs] = planServices(c, 'staging');
    expect(urlParts(db!, 'mysql://app:p%40ss@rm-1.mysql.rds.aliyuncs.com:3306/shop', 'X')).toEqual({
      url: 'mysql://app:p%40ss@rm-1.mysql.rds.aliyuncs.com:3306/shop',
      host: 'rm-1.mysql.rds.aliyuncs.com',
      port: '3306',
      user: 'app',
      password: 'p@ss',
      database: 'shop',
    });
    expect(urlParts(cache!, 'redis://:pw@r-1.redis.rds.aliyuncs.com/0', 'X')).toMatchObject({
      host: 'r-1.redis.rds.aliyuncs.com',
      port: '6379',
      password: 'pw',
    });
    expect(urlParts(docs!, 'mongodb://u:p@dds-1:3717/shop?authSource=admin', 'X')).toMatchObject({ port: '3717', database: 'shop' });
    for (const [url, problem] of [
      ['postgres://u:p@h/db', 'its scheme is postgres, not mysql or mariadb or mysqlx'],
      ['not a url', 'not a URL'],
    ]) {
      try {
        urlParts(db!, url!, 'the CI variable STAGING_DB_URL');
        throw new Error('no error');
      } catch (error) {
        expect(isGantryError(error) && error.code).toBe('E_SERVICE_URL');
        expect((error as Error).message).toContain(problem);
        expect((error as Error).message).not.toContain(':p@');
      }
    }
    expect(connectionData([db!], new Map([['db', { url: 'mysql://a:b@h:1/d', where: 'X' }]]))).toEqual({
      DATABASE_URL: 'mysql://a:b@h:1/d',
      MYSQL_HOST: 'h',
      MYSQL_PORT: '1',
      MYSQL_USER: 'a',
      MYSQL_PASSWORD: 'b',
      MYSQL_DATABASE: 'd',
    });
  });

  test('the checksum on the pod template changes with a managed URL, so the pods roll', () => {
    const plans = planServices(c, 'staging');
    expect(servicesChecksum(plans, { STAGING_DB_URL: 'mysql://a:b@h/d' })).not.toBe(servicesChecksum(plans, { STAGING_DB_URL: 'mysql://a:c@h/d' }));
  });

  test('serviceSecrets: a missing CI variable is E_SERVICE_URL_MISSING (exit 2), and values are masked', async () => {
    const lines: string[] = [];
    const ctx = createCtx({ env: {}, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) });
    const input = { namespace: 'shop', deployment: 'shop', instance: 'shop-staging', envName: 'staging', labels: {}, env: {}, serviceUrls: {} };
    await expect(serviceSecrets(ctx, undefined, planServices(c, 'staging'), input)).rejects.toMatchObject({ code: 'E_SERVICE_URL_MISSING' });
    const env = { STAGING_DB_URL: 'mysql://app:Sup3rSecret@rm-1:3306/shop', STAGING_REDIS_URL: 'redis://:R3disPw@r-1:6379/0' };
    const objects = await serviceSecrets(ctx, undefined, planServices(c, 'staging'), { ...input, env });
    // Without a cluster the Secret binding (docs) is left to deploy; the variables' settings are there.
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      `Secret/shop-services-${servicesChecksum(planServices(c, 'staging'), env).slice(0, 10)}`,
    ]);
    const data = (objects[0] as unknown as { data: Record<string, string> }).data;
    expect(Buffer.from(data.MYSQL_PASSWORD!, 'base64').toString()).toBe('Sup3rSecret');
    ctx.logger.info('connecting with Sup3rSecret and R3disPw and mysql://app:Sup3rSecret@rm-1:3306/shop');
    expect(lines.join('\n')).not.toMatch(/Sup3rSecret|R3disPw/);
  });

  test('generated passwords are 24 characters of [A-Za-z0-9], each different', () => {
    const seen = new Set(Array.from({ length: 50 }, () => generatePassword()));
    expect(seen.size).toBe(50);
    for (const p of seen) expect(p).toMatch(/^[A-Za-z0-9]{24}$/);
  });
});

describe('found by review (#14)', () => {
  const c = config(services, true);

  test('an ApsaraDB replica-set URL gives the first member as host and port; a stray % is E_SERVICE_URL, not a crash', () => {
    const [, , docs] = planServices(c, 'staging');
    const url = 'mongodb://root:p%40w@dds-a.mongodb.rds.aliyuncs.com:3717,dds-b.mongodb.rds.aliyuncs.com:3717/admin?replicaSet=mgset-1';
    expect(urlParts(docs!, url, 'X')).toEqual({ url, host: 'dds-a.mongodb.rds.aliyuncs.com', port: '3717', user: 'root', password: 'p@w', database: 'admin' });
    expect(() => urlParts(docs!, 'mongodb://u:50%off@h:3717/db', 'X')).toThrow(/its password has a "%" that is no escape/);
  });

  test('a managed URL without a password or database still deploys: the app env refers to those keys as optional', () => {
    const plans = planServices(c, 'staging');
    const env = serviceEnv(plans, 'shop', {});
    expect(env.filter((e) => e.valueFrom).every((e) => e.valueFrom!.secretKeyRef.optional === true)).toBe(true);
    expect(connectionData([plans[1]!], new Map([['cache', { url: 'redis://r-1.redis.rds.aliyuncs.com:6379', where: 'X' }]]))).toEqual({
      REDIS_URL: 'redis://r-1.redis.rds.aliyuncs.com:6379',
      REDIS_HOST: 'r-1.redis.rds.aliyuncs.com',
      REDIS_PORT: '6379',
    });
  });

  test("a Secret binding's URL names the connection Secret too: a rotated password rolls the pods", () => {
    const plans = planServices(c, 'staging');
    const a = servicesChecksum(plans, {}, { docs: 'mongodb://u:old@h:3717/db' });
    expect(servicesChecksum(plans, {}, { docs: 'mongodb://u:new@h:3717/db' })).not.toBe(a);
  });

  test('the check reads a MongoDB URL whole (replica-set members, mongodb+srv); the others by host and port', async () => {
    const { reachTargets } = await import('../../../src/services/rollout.js');
    expect(reachTargets(planServices(c, 'review'))).toEqual([
      { service: 'db', kind: 'mysql', hostVar: 'MYSQL_HOST', portVar: 'MYSQL_PORT' },
      { service: 'cache', kind: 'redis', hostVar: 'REDIS_HOST', portVar: 'REDIS_PORT' },
      { service: 'docs', kind: 'mongodb', urlVar: 'MONGODB_URI' },
    ]);
  });

  test('validate: a version YAML reads as a number, a name too long for pods, user root for mysql, a variable an environment also sets', () => {
    expect(() => config('services:\n  db: { kind: mysql, version: 8.0 }\n')).toThrow(/write the version in quotes/);
    const long = config(`services:
  a-very-long-service-name-that-makes-the-instance-name-long: { kind: redis, version: "7" }
  db: { kind: mysql, version: "8.0", user: root }
`);
    const bound = { ...long, environments: { ...long.environments, review: { ...long.environments.review!, env: { MYSQL_HOST: 'x' } } } };
    const problems = checkServices(bound as Config).map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        "services.a-very-long-service-name-that-makes-the-instance-name-long: shop-a-very-long-service-name-that-makes-the-instance-name-long (the instance's name) is longer than 52 characters, which a StatefulSet's pods cannot carry",
        'services.db.user: the mysql images make root themselves and refuse MYSQL_USER=root',
        'environments.review.env.MYSQL_HOST: MYSQL_HOST is also set by services.db',
      ]),
    );
  });
});

describe('services.yaml', () => {
  test('a preview renders a Service, StatefulSet and seed ConfigMap per instance; requests always set; no password', async () => {
    const c = config(services, true);
    const view = buildView({
      config: c,
      envName: 'review',
      ci: ciContext({ CI_MERGE_REQUEST_IID: '17' }),
      image: digestImage,
      seeds: { db: { name: 'seed.sql', content: Buffer.from('CREATE TABLE t (id int);\n') } },
    });
    const manifests = await renderManifests(view, { userDir: path.join(tmpdir(), 'gantry-no-user-templates') });
    expect(manifests.map((m) => m.file)).toEqual(['services.yaml', 'deploy.yaml', 'svc.yaml']);
    const objects = manifests[0]!.objects as Record<string, any>[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Service/shop-db',
      'ConfigMap/shop-db-seed',
      'StatefulSet/shop-db',
      'Service/shop-cache',
      'StatefulSet/shop-cache',
      'Service/shop-docs',
      'StatefulSet/shop-docs',
    ]);
    const db = objects[2]!;
    const container = db.spec.template.spec.containers[0];
    expect(container.resources.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(container.readinessProbe.tcpSocket).toEqual({ port: 3306 });
    expect(container.volumeMounts).toEqual([
      { name: 'data', mountPath: '/var/lib/mysql' },
      { name: 'seed', mountPath: '/docker-entrypoint-initdb.d', readOnly: true },
    ]);
    expect(db.spec.template.spec.volumes).toEqual([
      { name: 'data', emptyDir: {} },
      { name: 'seed', configMap: { name: 'shop-db-seed' } },
    ]);
    // The instance's pods are not the app's: the app's Service must not select them.
    expect(db.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'shop-db', 'app.kubernetes.io/instance': 'shop-mr-17' });
    expect(objects[4]!.spec.template.spec.containers[0].args).toEqual(['redis-server', '--requirepass', '$(REDIS_PASSWORD)']);
    const docs = objects[6]!;
    expect(docs.spec.volumeClaimTemplates[0].spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'alicloud-disk-essd',
      resources: { requests: { storage: '2Gi' } },
    });
    expect(manifests[1]!.text).toContain('$(SHOP_DB_SERVICE_HOST)');
    expect(manifests[1]!.text).toContain('gantry.dev/services-checksum');
  });

  test('an environment without instances renders the two files it always did', async () => {
    const c = config(services, true);
    const view = buildView({ config: c, envName: 'staging', ci: ciContext(), image: digestImage, env: { STAGING_DB_URL: 'mysql://a:b@h/d' } });
    const manifests = await renderManifests(view, { userDir: path.join(tmpdir(), 'gantry-no-user-templates') });
    expect(manifests.map((m) => m.file)).toEqual(['deploy.yaml', 'svc.yaml']);
    expect(manifests[0]!.text).not.toContain('mysql://a:b');
  });
});

describe('gantry validate: services rules', () => {
  test('names claimed twice, roles a kind lacks, undeclared bindings and reserved names are problems', () => {
    const c = config(`services:
  db: { kind: mysql, version: "8.0" }
  pg: { kind: postgresql, version: "16", user: app }
  cache: { kind: redis, version: "7", database: x, env: { user: REDIS_USER } }
  secrets: { kind: redis, version: "7", env: { url: OTHER_URL, host: H2, port: P2, password: PW2 } }
  big: { kind: mongodb, version: "7", storageClass: essd }
`);
    const problems = checkServices(c).map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'services.pg.env.url: DATABASE_URL is also set by services.db',
        'services.cache.database: redis has no database',
        'services.cache.env.user: redis has no user',
        'services.secrets: "secrets" names one of Gantry\'s own objects (shop-secrets)',
        'services.big.storageClass: a storage class needs a size: emptyDir has none',
        'environments.staging.services.db: staging does not say how it reaches service db (only review previews get an instance by default)',
      ]),
    );
    expect(problems.some((p) => p.startsWith('environments.review'))).toBe(false);
  });
});
