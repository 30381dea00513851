// gantry init as a flow: set a repository up for Gantry. Reads package.json and the app's
// sources (never runs them): its port and a probe that will pass, then writes gantry.yaml,
// .gitlab-ci.yml (Gantry's components) and a deploy/ override skeleton.
// All or nothing: every check (existing files, the generated gantry.yaml validating) runs
// before the first byte is written.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseConfigText } from '../config/load.js';
import type { Ctx } from '../context.js';
import { gantryError } from '../errors.js';
import { detectProject, probeLine, readProjectFacts, type ProjectFacts } from './detect.js';
import { componentsFor, renderDeployReadme, renderGantryYaml, renderGitlabCi, type InitPlan } from './files.js';
import { detectServices, servicesLine, type ProposedService } from './services.js';

export interface InitInput {
  /** The repository's root. */
  dir: string;
  /** --app, already checked to be a DNS label. */
  app?: string | undefined;
  /** --port, already checked. */
  port?: number | undefined;
  /** --force: overwrite what is there. */
  force: boolean;
}

/** What gantry init prints: what it found, chose and wrote. */
export interface InitResult {
  dir: string;
  app: string;
  port: number;
  healthPath: string | null;
  probe: 'tcp' | 'http';
  frontend: InitPlan['frontend'] | null;
  /** The services: proposed from the app's drivers (previews get instances of them). */
  services: ProposedService[];
  components: ReturnType<typeof componentsFor>;
  detected: { app: string; port: string; healthPath: string; main: string | null };
  warnings: string[];
  dryRun: boolean;
  files: { file: string; action: string }[];
}

export async function initRepository(ctx: Ctx, input: InitInput): Promise<InitResult> {
  const { dir } = input;
  let facts: ProjectFacts | undefined;
  try {
    facts = readProjectFacts(dir);
  } catch (error) {
    throw gantryError('E_INIT_PACKAGE_JSON', { path: path.join(dir, 'package.json'), reason: (error as Error).message });
  }
  if (!facts) {
    throw gantryError('E_INIT_NO_PACKAGE', { dir });
  }

  const detected = detectProject(facts);
  const services = detectServices(facts);
  const plan: InitPlan = {
    app: input.app ?? detected.app.value,
    port: input.port ?? detected.port.value,
    healthPath: detected.probe.path,
    probeFound: detected.probe.found,
    frontend: detected.frontend,
    services: services.services,
  };
  ctx.logger.info(`app ${plan.app} (${input.app ? '--app' : detected.app.source})`);
  ctx.logger.info(`port ${plan.port} (${input.port ? '--port' : detected.port.source})`);
  const routes = detected.probe.routes;
  if (routes.length > 0)
    ctx.logger.info(
      `GET routes found: ${routes
        .slice(0, 8)
        .map((r) => `${r.path} (${r.file}:${r.line})`)
        .join(', ')}${routes.length > 8 ? `, and ${routes.length - 8} more` : ''}`,
    );
  for (const r of detected.probe.unresolved) ctx.logger.info(`not used: GET ${r.path} in ${r.file}:${r.line} (${r.how}): ${r.why}`);
  ctx.logger.info(`probe: ${probeLine(detected.probe, plan.port)}`);
  for (const warning of detected.warnings) ctx.logger.warn(warning);
  ctx.logger.info(
    plan.frontend
      ? `frontend: ${plan.frontend.build ?? '(no build)'} -> ${plan.frontend.dir} (${plan.frontend.source})`
      : 'frontend: none (no build script with a bundler such as vite or webpack, no frontend/ directory)',
  );
  ctx.logger.info(servicesLine(services));
  // With services found, what could not be proposed is said on its own line too.
  if (services.services.length > 0) for (const note of services.notes) ctx.logger.info(`services: ${note}`);

  const files: { file: string; text: string }[] = [
    { file: 'gantry.yaml', text: renderGantryYaml(plan) },
    { file: '.gitlab-ci.yml', text: renderGitlabCi(plan) },
    { file: 'deploy/README.md', text: renderDeployReadme() },
    { file: 'deploy/partials/.gitkeep', text: '' },
  ];

  // Every check before any write.
  const existing = files.map((f) => f.file).filter((f) => existsSync(path.join(dir, f)));
  if (existsSync(path.join(dir, 'gantry.yml'))) existing.push('gantry.yml');
  if (existing.length > 0 && !input.force) {
    throw gantryError('E_INIT_EXISTS', { dir, existing });
  }
  // What init writes must pass `gantry validate` as it is: a failure here is Gantry's bug.
  parseConfigText(files[0]!.text, 'gantry.yaml (generated)', { env: {} });

  const written = files.map((f) => ({ file: f.file, action: existsSync(path.join(dir, f.file)) ? 'overwritten' : 'created' }));
  if (ctx.dryRun) {
    for (const w of written) ctx.logger.info(`would write ${w.file}`);
  } else {
    await writeAll(dir, files);
    for (const w of written) ctx.logger.info(`${w.action} ${w.file}`);
    ctx.logger.info('next: set the CI/CD variables listed in .gitlab-ci.yml, edit the CHANGE lines of gantry.yaml, then run gantry doctor --env staging');
  }
  return {
    dir,
    app: plan.app,
    port: plan.port,
    healthPath: plan.healthPath,
    probe: plan.healthPath === null ? 'tcp' : 'http',
    frontend: plan.frontend ?? null,
    services: services.services,
    components: componentsFor(plan),
    detected: { app: detected.app.source, port: detected.port.source, healthPath: detected.probe.found, main: detected.main ?? null },
    warnings: detected.warnings,
    dryRun: ctx.dryRun,
    files: written,
  };
}

/** Writes every file to a temporary sibling first and renames them into place once all are written. */
async function writeAll(dir: string, files: { file: string; text: string }[]): Promise<void> {
  const temps: { temp: string; target: string }[] = [];
  try {
    for (const f of files) {
      const target = path.join(dir, f.file);
      await mkdir(path.dirname(target), { recursive: true });
      const temp = `${target}.gantry-init-${process.pid}.tmp`;
      temps.push({ temp, target });
      await writeFile(temp, f.text);
    }
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t.temp, { force: true })));
    throw gantryError('E_INIT_DIR_NOT_WRITABLE', { dir, reason: (error as Error).message }, { cause: error });
  }
  // A target that is a directory would make its rename fail halfway: found before any rename.
  const blocked: string[] = [];
  for (const t of temps) if ((await stat(t.target).catch(() => undefined))?.isDirectory()) blocked.push(path.relative(dir, t.target));
  if (blocked.length > 0) {
    await Promise.all(temps.map((t) => rm(t.temp, { force: true })));
    throw gantryError('E_INIT_PATH_BLOCKED', { blocked });
  }
  const renamed: string[] = [];
  try {
    for (const t of temps) {
      await rename(t.temp, t.target);
      renamed.push(path.relative(dir, t.target));
    }
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t.temp, { force: true })));
    throw gantryError('E_INIT_WRITE', { dir, written: renamed, total: temps.length, reason: (error as Error).message }, { cause: error });
  }
}
