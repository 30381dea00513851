// Aliyun Container Registry host names. CI pushes to the host it can reach; the cluster pulls
// from the VPC host of the same instance (no public traffic, no egress fees).
//   personal (before 2024-09-09):  registry[-vpc].<region>.aliyuncs.com
//   personal (from 2024-09-09):    crpi-<id>[-vpc].<region>.personal.cr.aliyuncs.com
//   enterprise:                    <instance>-registry[-vpc].<region>.cr.aliyuncs.com

export type AcrKind = 'personal-classic' | 'personal' | 'enterprise';

export interface AcrHost {
  kind: AcrKind;
  region: string;
  vpc: boolean;
  publicHost: string;
  vpcHost: string;
}

const patterns: { kind: AcrKind; re: RegExp; build: (m: RegExpExecArray, vpc: boolean) => string }[] = [
  { kind: 'personal-classic', re: /^registry(-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com$/, build: (m, vpc) => `registry${vpc ? '-vpc' : ''}.${m[2]}.aliyuncs.com` },
  {
    kind: 'personal',
    re: /^(crpi-[a-z0-9]+)(-vpc)?\.([a-z0-9-]+)\.personal\.cr\.aliyuncs\.com$/,
    build: (m, vpc) => `${m[1]}${vpc ? '-vpc' : ''}.${m[3]}.personal.cr.aliyuncs.com`,
  },
  {
    kind: 'enterprise',
    re: /^([a-z0-9][a-z0-9-]*?)-registry(-vpc)?\.([a-z0-9-]+)\.cr\.aliyuncs\.com$/,
    build: (m, vpc) => `${m[1]}-registry${vpc ? '-vpc' : ''}.${m[3]}.cr.aliyuncs.com`,
  },
];

/** What an ACR host is, and its public and VPC twins; undefined for any other registry. */
export function parseAcrHost(host: string): AcrHost | undefined {
  for (const { kind, re, build } of patterns) {
    const m = re.exec(host.toLowerCase());
    if (!m) continue;
    const vpc = kind === 'personal' ? Boolean(m[2]) : Boolean(kind === 'personal-classic' ? m[1] : m[2]);
    const region = kind === 'personal-classic' ? m[2]! : m[3]!;
    return { kind, region, vpc, publicHost: build(m, false), vpcHost: build(m, true) };
  }
  return undefined;
}

/** The host the cluster pulls from: the configured one, else an ACR host's VPC twin. */
export function defaultPullHost(pushHost: string, pullHost: string | undefined): string {
  if (pullHost) return pullHost;
  return parseAcrHost(pushHost)?.vpcHost ?? pushHost;
}

/** The image's path below the registry host: <namespace>/<repository, default the app name>. */
export function imagePath(registry: { namespace: string; repository?: string | undefined }, app: string): string {
  return `${registry.namespace}/${registry.repository ?? app}`;
}
