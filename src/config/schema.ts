// gantry.yaml: one schema that gives the TypeScript types (z.infer), validation with every
// problem at once, and the JSON Schema editors use (`gantry schema`, schema/gantry.schema.json).
// Descriptions and examples here are what the user sees in the editor and in error fixes.
import * as z from 'zod';
import { dns1123SubdomainProblem, INT32_MAX, qualifiedNameProblem } from '../names/limits.js';

const dnsLabelPattern = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsLabel = (what: string) =>
  z.string().regex(dnsLabelPattern, {
    error: `${what} must be a DNS label: lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most 63 characters`,
  });

// Whole numbers that land in an int32 field of a Kubernetes object (replicas, probe timings,
// progressDeadlineSeconds, ...): k8s.io/api declares them int32, so 2^31 and above is refused.
const int32 = () => z.int().max(INT32_MAX);

// Annotation keys are qualified names (k8s.io/apimachinery pkg/api/validation/objectmeta.go
// ValidateAnnotations -> validation.IsQualifiedName, lower-cased).
const annotationKey = z.string().superRefine((key, ctx) => {
  const why = qualifiedNameProblem(key.toLowerCase());
  if (why) ctx.addIssue({ code: 'custom', message: `annotation key "${key}": ${why}`, input: key });
});
const annotations = () => z.record(annotationKey, z.string());

// An object name Kubernetes checks as a DNS-1123 subdomain (a Secret, an IngressClass).
const subdomainName = (what: string) =>
  z.string().superRefine((name, ctx) => {
    const why = dns1123SubdomainProblem(name);
    if (why) ctx.addIssue({ code: 'custom', message: `${what} ${why}`, input: name });
  });

const hostPattern = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$/;
const host = (what: string) => z.string().regex(hostPattern, { error: `${what} must be a host name, optionally with :port, without a scheme or path` });

// Kubernetes resource quantity (k8s.io/apimachinery/pkg/api/resource), e.g. 250m, 0.5, 512Mi, 1Gi.
const quantityPattern = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$/;
const quantity = z
  .union([z.string(), z.number().nonnegative()])
  .transform((value) => String(value))
  .pipe(z.string().regex(quantityPattern, { error: 'must be a Kubernetes quantity such as 250m, 0.5, 512Mi or 1Gi' }));

const resourceList = z
  .strictObject({
    cpu: quantity.optional().meta({ description: 'CPU, e.g. 250m (a quarter core) or 1', examples: ['250m'] }),
    memory: quantity.optional().meta({ description: 'Memory, e.g. 512Mi or 1Gi', examples: ['512Mi'] }),
  })
  .meta({ description: 'CPU and memory' });

export const resourcesSchema = z
  .strictObject({
    requests: resourceList.optional().meta({ description: 'What the scheduler reserves (ECI bills by this; a pod without it is billed as 2 vCPU / 4 GiB)' }),
    limits: resourceList.optional().meta({ description: 'The most the container may use' }),
  })
  .meta({ description: 'Container resources' });

// Kubernetes env var names: C_IDENTIFIER-like, dots and dashes allowed (validation.IsEnvVarName).
const envNamePattern = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const envName = z.string().regex(envNamePattern, {
  error: 'env var names may contain letters, digits, "_", "-" and ".", and must not start with a digit',
});

// ValidateEnvFrom checks a prefix as an env var name (validation.IsEnvVarName).
const envFromPrefix = z.string().regex(envNamePattern, {
  error: 'an envFrom prefix may contain letters, digits, "_", "-" and ".", and must not start with a digit',
});

const envValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z
    .strictObject({
      secret: dnsLabel('secret').meta({ description: 'Name of the Secret' }),
      key: z.string().min(1).meta({ description: 'Key inside the Secret' }),
      optional: z.boolean().optional(),
    })
    .meta({ description: 'Take the value from a Secret key' }),
  z
    .strictObject({
      configMap: dnsLabel('configMap').meta({ description: 'Name of the ConfigMap' }),
      key: z.string().min(1).meta({ description: 'Key inside the ConfigMap' }),
      optional: z.boolean().optional(),
    })
    .meta({ description: 'Take the value from a ConfigMap key' }),
]);

export const envSchema = z.record(envName, envValue).meta({
  description:
    'Environment variables: plain values go into a ConfigMap (changing one rolls the pods); {secret, key} and {configMap, key} reference existing objects',
});

const envFromSchema = z
  .array(
    z.union([
      z.strictObject({ configMap: dnsLabel('configMap'), prefix: envFromPrefix.optional(), optional: z.boolean().optional() }),
      z.strictObject({ secret: dnsLabel('secret'), prefix: envFromPrefix.optional(), optional: z.boolean().optional() }),
    ]),
  )
  .meta({ description: 'Whole ConfigMaps or Secrets to load as env vars, e.g. [{secret: hello-db}]' });

const probeSchema = z
  .strictObject({
    path: z.string().regex(/^\//, { error: 'probe path must start with "/"' }).optional().meta({ description: 'HTTP path (default: backend.healthPath)' }),
    command: z.array(z.string()).min(1).optional().meta({ description: 'Run this command instead of an HTTP check' }),
    tcp: z.boolean().optional().meta({ description: 'Check that the port accepts connections instead of an HTTP check' }),
    initialDelaySeconds: int32().min(0).optional(),
    periodSeconds: int32().min(1).optional(),
    timeoutSeconds: int32().min(1).optional(),
    failureThreshold: int32().min(1).optional(),
    successThreshold: int32().min(1).optional(),
  })
  .meta({ description: 'A probe; an HTTP GET of backend.healthPath unless command or tcp is set' });

const probeOrOff = z.union([probeSchema, z.literal(false)]);

export const autoscaleSchema = z
  .strictObject({
    min: int32()
      .min(1)
      .meta({ description: 'Fewest replicas', examples: [2] }),
    max: int32()
      .min(1)
      .meta({ description: 'Most replicas', examples: [10] }),
    cpu: z
      .int()
      .min(1)
      .max(1000)
      .optional()
      .meta({ description: 'Target average CPU utilisation in % of requests (default 80 when neither cpu nor memory is set)' }),
    memory: z.int().min(1).max(1000).optional().meta({ description: 'Target average memory utilisation in % of requests' }),
  })
  .meta({ description: 'HorizontalPodAutoscaler (autoscaling/v2); when set, spec.replicas is left to the HPA' });

const initContainerSchema = z.strictObject({
  name: dnsLabel('initContainers[].name'),
  image: z.string().min(1).optional().meta({ description: "Image (default: the app's own image, handy for migrations)" }),
  command: z.array(z.string()).min(1).meta({ description: 'Command, e.g. [npm, run, migrate]' }),
  args: z.array(z.string()).optional(),
  resources: resourcesSchema.optional(),
});

const backendSchema = z
  .strictObject({
    dockerfile: z
      .string()
      .min(1)
      .default('Dockerfile')
      .meta({ description: 'Dockerfile path; when the file does not exist, Gantry generates one for the Node app' }),
    context: z.string().min(1).default('.').meta({ description: 'Docker build context' }),
    baseImage: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Base image for a generated Dockerfile, e.g. an ACR mirror of node; {major} is the Node major version',
        examples: ['registry-vpc.cn-hangzhou.aliyuncs.com/acme/node:{major}-slim'],
      }),
    buildArgs: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'build arg names are letters, digits and "_"' }), z.string())
      .default({})
      .meta({ description: 'docker build --build-arg values' }),
    port: z
      .int()
      .min(1)
      .max(65535)
      .default(3000)
      .meta({ description: 'Port the app listens on (also passed as PORT)', examples: [3000] }),
    healthPath: z
      .string()
      .regex(/^\//, { error: 'healthPath must start with "/", e.g. /healthz' })
      .default('/healthz')
      .meta({ description: 'HTTP path that answers 200 when the app is healthy' }),
    command: z
      .array(z.string())
      .min(1)
      .optional()
      .meta({ description: "Container command (default: the image's entrypoint)", examples: [['node', 'server.js']] }),
    args: z.array(z.string()).optional().meta({ description: 'Container args' }),
    replicas: int32()
      .min(0)
      .default(1)
      .meta({ description: 'Replicas when autoscale is not set', examples: [2] }),
    maxReplicas: int32().min(1).default(20).meta({ description: 'Upper bound for gantry scale when autoscale is not set' }),
    resources: resourcesSchema.default({ requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '512Mi' } }),
    autoscale: autoscaleSchema.optional(),
    env: envSchema.default({}),
    envFrom: envFromSchema.default([]),
    initContainers: z.array(initContainerSchema).default([]).meta({ description: 'Containers that run to completion before the app starts' }),
    migrate: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .optional()
      .meta({
        description: "Migrations run as a Job with the new image and the app's env before the Deployment is applied (a string runs with sh -c)",
        examples: ['npx prisma migrate deploy', 'npm run migrate'],
      }),
    migrateTimeout: int32().min(10).default(600).meta({ description: 'Seconds a migration may run' }),
    probes: z
      .strictObject({ liveness: probeOrOff.optional(), readiness: probeOrOff.optional(), startup: probeOrOff.optional() })
      .default({})
      .meta({ description: 'Probe settings; false turns one off' }),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional().meta({ description: 'Default: IfNotPresent for a digest, Always for a tag' }),
    podAnnotations: annotations().default({}).meta({ description: 'Extra annotations on the pod template' }),
    progressDeadlineSeconds: int32().min(1).default(600),
    terminationGracePeriodSeconds: z.int().min(0).default(30),
    maxSurge: z.union([int32().min(0), z.string().regex(/^[0-9]+%$/)]).default('25%'),
    maxUnavailable: z.union([int32().min(0), z.string().regex(/^[0-9]+%$/)]).default(0),
  })
  .meta({ description: 'The backend: image build and Deployment' });

const frontendSchema = z
  .strictObject({
    build: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Build command, e.g. npm run build', examples: ['npm run build'] }),
    dir: z.string().min(1).default('dist').meta({ description: 'Directory to publish' }),
    bucket: z
      .string()
      .regex(/^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/, { error: 'bucket names are 3-63 lowercase letters, digits and "-", not starting or ending with "-"' })
      .meta({ description: 'OSS bucket' }),
    region: z
      .string()
      .regex(/^oss-[a-z0-9-]+$/, { error: 'region looks like oss-cn-hangzhou' })
      .meta({ description: 'OSS region, e.g. oss-cn-hangzhou', examples: ['oss-cn-hangzhou'] }),
    endpoint: z.string().min(1).optional().meta({ description: 'OSS endpoint override (e.g. the internal endpoint)' }),
    pathStyle: z.boolean().default(false).meta({
      description:
        'Path-style requests (<endpoint>/<bucket>/<key>) for an OSS-compatible endpoint that has no virtual hosts; Aliyun OSS itself takes only the default virtual-hosted style',
    }),
    prefix: z.string().default('').meta({ description: 'Key prefix inside the bucket' }),
    cacheBust: z
      .boolean()
      .default(true)
      .meta({ description: 'Add ?v=<short commit sha> to HTML references to assets whose names carry no content hash (bundle.js, style.css)' }),
    encoding: z
      .enum(['gzip', 'br'])
      .optional()
      .meta({ description: 'Store text files compressed, with this Content-Encoding (every current browser accepts both; br only over HTTPS)' }),
    compress: z
      .array(z.string().regex(/^[a-z0-9]+$/, { error: 'an extension without the dot, e.g. js' }))
      .default(['html', 'htm', 'js', 'mjs', 'css', 'json', 'svg', 'txt', 'xml', 'map', 'wasm'])
      .meta({ description: 'Extensions stored compressed when encoding is set' }),
    website: z
      .strictObject({
        index: z
          .string()
          .regex(/^[^/]+$/, { error: 'index is a file name without "/", e.g. index.html' })
          .default('index.html')
          .meta({ description: 'What a directory URL (/ or /docs/) serves' }),
        notFound: z
          .string()
          .min(1)
          .optional()
          .meta({ description: 'Page served with status 404 for a missing path, e.g. 404.html (below prefix)', examples: ['404.html'] }),
        spa: z.boolean().default(false).meta({ description: 'Single-page app: every missing path serves index.html with status 200' }),
      })
      .refine((w) => !(w.spa && w.notFound), { error: 'spa serves index.html for every missing path, so notFound would never be used', path: ['notFound'] })
      .optional()
      .meta({ description: 'Static website hosting of the bucket, applied by gantry frontend --website' }),
    cdn: z
      .strictObject({
        domain: z
          .string()
          .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
            error: 'domain is a host name without scheme or path, e.g. www.example.com',
          })
          .meta({ description: 'CDN domain in front of the bucket; the HTML a publish changes is refreshed there', examples: ['www.hello.example.com'] }),
        endpoint: z
          .string()
          .regex(/^https?:\/\/[^/\s]+\/?$/, { error: 'endpoint is a URL such as https://cdn.aliyuncs.com' })
          .default('https://cdn.aliyuncs.com')
          .meta({ description: 'CDN API endpoint' }),
      })
      .optional()
      .meta({ description: 'Aliyun CDN refresh after publish; credentials GANTRY_CDN_ACCESS_KEY_ID / _SECRET, else the OSS pair' }),
    retention: z.int().min(1).default(3).meta({ description: 'Releases whose assets are kept' }),
  })
  .meta({ description: 'The frontend bundle published to OSS' });

const slbSchema = z
  .strictObject({
    id: z.string().min(1).optional().meta({ description: 'Reuse this existing SLB (its listeners are overridden; it is never deleted with the Service)' }),
    addressType: z.enum(['internet', 'intranet']).optional().meta({ description: 'Public or VPC-internal address' }),
    vswitchId: z.string().min(1).optional().meta({ description: 'VSwitch for an intranet SLB' }),
    certId: z.string().min(1).optional().meta({ description: 'SLB certificate id: serves https:443 (and http:80)' }),
    chargeType: z.enum(['PayByCLCU', 'PayBySpec']).optional().meta({ description: 'Billing of a new SLB (Aliyun sells only PayByCLCU since 2025-06)' }),
    spec: z.string().min(1).optional().meta({ description: 'Instance spec such as slb.s1.small (PayBySpec only)' }),
    annotations: annotations().default({}).meta({ description: 'Any other service.beta.kubernetes.io/alibaba-cloud-loadbalancer-* annotations' }),
  })
  .meta({ description: 'Aliyun SLB options for a LoadBalancer Service' });

const serviceSchema = z
  .strictObject({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).default('ClusterIP'),
    port: z.int().min(1).max(65535).default(80).meta({ description: 'Service port' }),
    nodePort: z.int().min(1).max(65535).optional(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    slb: slbSchema.optional(),
  })
  .meta({ description: 'The Service in svc.yaml' });

const ingressSchema = z
  .strictObject({
    className: subdomainName('ingress.className').default('nginx').meta({ description: 'IngressClass (nginx for ACK Nginx Ingress, alb for ALB Ingress)' }),
    tlsSecret: subdomainName('ingress.tlsSecret').optional().meta({ description: 'TLS Secret for the domain' }),
    annotations: annotations().default({}),
  })
  .meta({ description: 'The Ingress in svc.yaml, created when domain is set' });

export const eciSchema = z
  .strictObject({
    failStrategy: z
      .enum(['fail-fast', 'fail-back', 'fail-over'])
      .default('fail-fast')
      .meta({ description: 'fail-fast reports ProviderFailed at once instead of leaving the pod Pending' }),
    instanceTypes: z
      .array(z.string().min(1))
      .optional()
      .meta({ description: 'eci-use-specs: ECS types or vCPU-memory specs tried in order', examples: [['2-4Gi', 'ecs.c6.large']] }),
    imageCache: z.boolean().default(true).meta({ description: 'Use ECI image caches (eci-auto-imc)' }),
    spot: z.boolean().default(false).meta({ description: 'Run on spot instances (SpotAsPriceGo)' }),
    logs: z
      .strictObject({
        enabled: z.boolean().default(true),
        path: z
          .string()
          .regex(/^\//, { error: 'must start with "/"' })
          .default('/var/log/app')
          .meta({ description: 'Directory the app writes log files to (shared with the logtail sidecar)' }),
        userId: z.string().min(1).meta({ description: 'Aliyun account id that owns the SLS project (ALIYUN_LOGTAIL_USER_ID)' }),
        machineGroup: z.string().min(1).meta({ description: 'Custom identifier of the SLS machine group (ALIYUN_LOGTAIL_USER_DEFINED_ID)' }),
        region: z
          .string()
          .regex(/^[a-z]+-[a-z0-9-]+$/)
          .meta({ description: 'SLS region, e.g. cn-hangzhou' }),
        image: z.string().min(1).optional().meta({ description: 'Logtail image (default: registry-vpc.<region>.aliyuncs.com/log-service/logtail:latest)' }),
      })
      .optional()
      .meta({ description: 'Collect log files with a logtail sidecar sharing an emptyDir (Serverless Kubernetes has no node daemon)' }),
  })
  .meta({ description: 'Elastic Container Instance options (ASK, or ACK virtual nodes)' });

// #14: what the app needs besides itself. A service is declared once (kind, version, how an
// instance runs) and bound per environment: an instance Gantry runs in the namespace (previews),
// or a managed database by reference (a CI variable or an existing Secret holding its URL).
const serviceEnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'an environment variable name: letters, digits and "_", not starting with a digit' });
const sqlName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,31}$/, { error: 'letters, digits and "_", at most 32, not starting with a digit' });
export const dataServiceSchema = z
  .strictObject({
    kind: z.enum(['mysql', 'postgresql', 'mongodb', 'redis']).meta({ description: 'What it is: mysql (also MariaDB), postgresql, mongodb or redis' }),
    version: z
      .string({ error: 'write the version in quotes, e.g. "8.0": YAML reads 8.0 as the number 8' })
      .pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: "a version such as 8.0, 16 or 7.2 (the default image's tag)" }))
      .meta({ description: 'Version: the tag of the default image (mysql, postgres, mongo, redis)', examples: ['8.0', '16', '7'] }),
    image: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'The whole image reference, e.g. an ACR mirror (default <serviceMirror>/<official name>:<version>)' }),
    database: sqlName.optional().meta({ description: 'Database name (default: the app name with "-" as "_"; not for redis)' }),
    user: sqlName.optional().meta({ description: 'User name (default: the app name with "-" as "_"; not for redis)' }),
    env: z
      .strictObject({
        url: serviceEnvName.optional(),
        host: serviceEnvName.optional(),
        port: serviceEnvName.optional(),
        user: serviceEnvName.optional(),
        password: serviceEnvName.optional(),
        database: serviceEnvName.optional(),
      })
      .default({})
      .meta({ description: 'Names of the environment variables the app gets, by role (defaults: DATABASE_URL, MYSQL_HOST, ... by kind)' }),
    storage: z
      .union([z.literal('emptyDir'), quantity])
      .default('emptyDir')
      .meta({ description: 'emptyDir (default: gone with the pod, fits a preview) or a size such as 1Gi for a PersistentVolumeClaim' }),
    storageClass: z.string().min(1).optional().meta({ description: 'StorageClass of the claim (with a size), e.g. alicloud-disk-essd' }),
    resources: resourcesSchema.optional().meta({ description: 'Requests and limits of the instance (default by kind; requests are always set)' }),
    seed: z
      .union([
        z.strictObject({
          file: z
            .string()
            .min(1)
            .meta({ description: 'A file in the repository run by the image when its data is new (.sql, .sql.gz, .sh; mongodb .js, .sh)' }),
        }),
        z.strictObject({
          command: z.array(z.string()).min(1).meta({ description: "A command run once per new instance as a Job with the app's image and env" }),
        }),
      ])
      .optional()
      .meta({ description: 'Seed data for a new instance' }),
  })
  .meta({ description: 'A database or cache the app needs' });

const serviceBindingSchema = z
  .union([
    z.literal('instance').meta({ description: 'Gantry runs one in the namespace (StatefulSet + Service)' }),
    z.strictObject({ variable: serviceEnvName.meta({ description: 'CI variable holding the URL, e.g. PRODUCTION_DATABASE_URL' }) }),
    z.strictObject({
      secret: dnsLabel('secret').meta({ description: 'An existing Secret in the namespace' }),
      key: z.string().min(1).default('url').meta({ description: 'Key holding the URL' }),
    }),
  ])
  .meta({ description: 'How this environment reaches the service' });

// #15: progressive delivery. A duration is a number with s, m or h ("30s", "2m", "1h").
const durationPattern = /^([0-9]+(\.[0-9]+)?)(ms|s|m|h)$/;
export function durationSeconds(value: string): number {
  const m = durationPattern.exec(value);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[3] === 'ms' ? n / 1000 : m[3] === 's' ? n : m[3] === 'm' ? n * 60 : n * 3600;
}
const duration = (what: string) => z.string().regex(durationPattern, { error: `${what} is a duration such as 30s, 2m or 1h` });

const canaryStepSchema = z
  .strictObject({
    weight: z
      .int()
      .min(1)
      .max(99)
      .meta({ description: 'Per cent of the traffic the new version gets in this step (100 is the promotion that follows the last step)' }),
    pause: z
      .union([z.literal('manual'), duration('pause')])
      .optional()
      .meta({ description: 'How long to hold this step while the analysis runs (30s, 2m, 1h), or manual: wait for gantry promote / gantry abort' }),
  })
  .meta({ description: 'One canary step: a weight held for a pause' });

const analysisQuerySchema = z
  .strictObject({
    name: dnsLabel('analysis query name').meta({ description: 'Shown in the job log and the MR note', examples: ['error-rate'] }),
    query: z.string().min(1).meta({
      description:
        'PromQL; {{namespace}}, {{deployment}}, {{canary}} (the canary Deployment), {{canaryPods}} (a regex of its pod names) and {{stablePods}} are replaced',
    }),
    max: z.number().optional().meta({ description: 'Fails when any value of the result is above this' }),
    min: z.number().optional().meta({ description: 'Fails when any value of the result is below this' }),
    noData: z.enum(['ignore', 'fail']).default('ignore').meta({ description: 'An empty result or NaN (no traffic yet): ignore (default) or fail' }),
  })
  .refine((q) => q.max !== undefined || q.min !== undefined, { error: 'give the query a threshold: max, min or both' })
  .meta({ description: 'A PromQL query and its threshold' });

export const rolloutSchema = z
  .strictObject({
    strategy: z.enum(['rolling', 'canary']).default('rolling').meta({ description: "rolling (the Deployment's own update) or canary" }),
    steps: z.array(canaryStepSchema).max(20).default([]).meta({ description: 'Canary steps, in order; the promotion to 100% follows the last' }),
    traffic: z.enum(['replicas', 'nginx', 'alb', 'kruise']).default('replicas').meta({
      description:
        'How the weight is set: replicas (a canary Deployment beside the stable one, both behind the Service), nginx or alb (canary Ingress annotations), kruise (a Kruise Rollout)',
    }),
    analysis: z
      .strictObject({
        interval: duration('analysis.interval').default('30s').meta({ description: 'How often the checks run during a pause' }),
        urlVariable: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default('GANTRY_PROMETHEUS_URL')
          .meta({ description: 'CI variable with the Prometheus (or ARMS) HTTP API base URL' }),
        tokenVariable: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default('GANTRY_PROMETHEUS_TOKEN')
          .meta({ description: 'CI variable with the credential for it (optional); see auth' }),
        auth: z.enum(['bearer', 'token', 'basic']).default('bearer').meta({
          description:
            'How the credential is sent: bearer (Authorization: Bearer <token>, a Prometheus behind an auth proxy), token (Authorization: <token>, ARMS V1), basic (the variable holds user:password or AccessKeyID:Secret, ARMS V2)',
        }),
        queries: z.array(analysisQuerySchema).default([]),
        maxRestarts: z.int().min(0).default(0).meta({ description: 'Built-in check: canary container restarts allowed' }),
      })
      .default(() => ({
        interval: '30s',
        urlVariable: 'GANTRY_PROMETHEUS_URL',
        tokenVariable: 'GANTRY_PROMETHEUS_TOKEN',
        auth: 'bearer' as const,
        queries: [],
        maxRestarts: 0,
      }))
      .meta({ description: 'Checks run during every pause: the built-in ones (restarts, readiness, failures) and PromQL queries' }),
  })
  .meta({ description: 'How a new version reaches the traffic' });

export const environmentSchema = z
  .strictObject({
    cluster: z.enum(['ack', 'ask']).default('ack').meta({ description: 'ack (Container Service) or ask (Serverless, pods on ECI)' }),
    kubeconfig: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'kubeconfig is the NAME of a CI variable, e.g. KUBECONFIG_STAGING' })
      .optional()
      .meta({ description: 'Name of the CI variable holding the kubeconfig (default KUBECONFIG_<ENV>)' }),
    namespace: z.string().min(1).optional().meta({ description: 'Namespace (default <app>-<env>; review: <app>-mr-{iid})' }),
    domain: z.string().min(1).optional().meta({ description: 'Host name for the Ingress; for review use {iid} or {slug}, e.g. mr-{iid}.review.example.com' }),
    branch: z.string().min(1).optional().meta({ description: 'Branch whose pushes deploy here (staging default: k8s-backend)' }),
    manual: z.boolean().optional().meta({ description: 'Deploy only by a manual promote (production default: true)' }),
    autoStopIn: z.string().min(1).optional().meta({ description: 'GitLab auto_stop_in for review environments, e.g. 3 days' }),
    replicas: int32().min(0).optional().meta({ description: 'Overrides backend.replicas here' }),
    autoscale: autoscaleSchema.optional(),
    resources: resourcesSchema.optional(),
    env: envSchema.optional().meta({ description: 'Merged over backend.env here' }),
    service: serviceSchema.default({ type: 'ClusterIP', port: 80 }),
    ingress: ingressSchema.default({ className: 'nginx', annotations: {} }),
    eci: eciSchema.optional(),
    services: z
      .record(dnsLabel('service name'), serviceBindingSchema)
      .optional()
      .meta({ description: 'How each service is reached here (review default: instance; elsewhere required)' }),
    rollout: rolloutSchema.optional(),
  })
  .meta({ description: 'Where and how one environment runs' });

export const configSchema = z
  .strictObject({
    app: dnsLabel('app').meta({ description: 'App name: names the Deployment, Service and image', examples: ['hello'] }),
    registry: z
      .strictObject({
        pushHost: host('registry.pushHost').meta({ description: 'Registry host CI pushes to', examples: ['registry.cn-hangzhou.aliyuncs.com'] }),
        pullHost: host('registry.pullHost')
          .optional()
          .meta({
            description: 'Registry host the cluster pulls from (default: for an ACR host its -vpc twin, else pushHost)',
            examples: ['registry-vpc.cn-hangzhou.aliyuncs.com'],
          }),
        namespace: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9_./]*[a-z0-9])?$/, { error: 'registry.namespace is the ACR namespace (lowercase)' })
          .meta({ description: 'ACR namespace' }),
        repository: z
          .string()
          .regex(/^[a-z0-9]([-a-z0-9_./]*[a-z0-9])?$/)
          .optional()
          .meta({ description: 'Repository name (default: app)' }),
        pullSecret: dnsLabel('registry.pullSecret')
          .default('gantry-registry')
          .meta({ description: 'Name of the pull secret Gantry creates in each namespace' }),
      })
      .optional()
      .meta({ description: 'Container registry (ACR); credentials come from CI variables GANTRY_REGISTRY_USER / GANTRY_REGISTRY_PASSWORD' }),
    backend: backendSchema.default(() => backendSchema.parse({})),
    frontend: frontendSchema.optional(),
    services: z
      .record(dnsLabel('service name'), dataServiceSchema)
      .default({})
      .meta({ description: 'Databases and caches the app needs: mysql, postgresql, mongodb, redis' }),
    serviceMirror: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9_.:/]*[a-z0-9])?$/, { error: 'a registry prefix such as registry-vpc.cn-hangzhou.aliyuncs.com/acme' })
      .optional()
      .meta({ description: 'Registry prefix for the default service images (an ACR mirror): <serviceMirror>/mysql:8.0' }),
    environments: z
      .record(dnsLabel('environment name'), environmentSchema)
      .refine((envs) => Object.keys(envs).length > 0, { error: 'define at least one environment, e.g. staging' })
      .meta({ description: 'staging, production, review, or any other name' }),
  })
  .meta({ title: 'gantry.yaml', description: 'Gantry deploy configuration' });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type EnvironmentConfig = z.output<typeof environmentSchema>;
export type Resources = z.output<typeof resourcesSchema>;
export type Autoscale = z.output<typeof autoscaleSchema>;
export type EnvMap = z.output<typeof envSchema>;
export type Rollout = z.output<typeof rolloutSchema>;

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: 'https://gantry.dev/schema/gantry.schema.json' };
}
