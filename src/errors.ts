// The error catalogue: every failure Gantry reports has a stable code, a one-line message,
// details, and how to fix it. Exit codes: 1 = the deploy (or another outside action) failed,
// 2 = bad input or configuration (nothing was done).

export interface CatalogueEntry {
  exitCode: 1 | 2;
  title: string;
}

export const catalogue = {
  E_USAGE: { exitCode: 2, title: 'Bad command line' },
  E_CONFIG_MISSING: { exitCode: 2, title: 'No gantry.yaml' },
  E_CONFIG_SYNTAX: { exitCode: 2, title: 'gantry.yaml is not valid YAML' },
  E_CONFIG_INVALID: { exitCode: 2, title: 'The configuration has problems' },
  E_INPUT: { exitCode: 2, title: 'Missing or bad input' },
  E_TEMPLATE: { exitCode: 2, title: 'A manifest template failed' },
  E_BUILD_NO_SOURCE: { exitCode: 2, title: 'Nothing to build an image from' },
  E_DOCKER_UNAVAILABLE: { exitCode: 1, title: 'No Docker daemon answers' },
  E_BUILD_FAILED: { exitCode: 1, title: 'The image build failed' },
  E_REGISTRY_AUTH: { exitCode: 1, title: 'The registry refused the credentials' },
  E_REGISTRY_UNREACHABLE: { exitCode: 1, title: 'The registry cannot be reached' },
  E_PUSH_DENIED: { exitCode: 1, title: 'The registry refused the push' },
  E_FRONTEND_BUILD_FAILED: { exitCode: 1, title: 'The frontend build failed' },
  E_FRONTEND_EMPTY: { exitCode: 1, title: 'Nothing to publish' },
  E_OSS_ACCESS: { exitCode: 1, title: 'OSS refused the credentials' },
  E_OSS_BUCKET: { exitCode: 1, title: 'The OSS bucket does not exist' },
  E_OSS_UNREACHABLE: { exitCode: 1, title: 'OSS cannot be reached' },
  E_INTERNAL: { exitCode: 1, title: 'Unexpected error' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof catalogue;

export interface GantryErrorOptions {
  details?: string[];
  fix?: string;
  cause?: unknown;
}

export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly details: string[];
  readonly fix: string | undefined;

  constructor(code: ErrorCode, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.code = code;
    this.details = options.details ?? [];
    this.fix = options.fix;
  }

  get exitCode(): 1 | 2 {
    return catalogue[this.code].exitCode;
  }
}

export function isGantryError(error: unknown): error is GantryError {
  return error instanceof GantryError;
}

/** Wrap a lower-level error with what was being done, keeping Gantry errors as they are. */
export function wrapError(doing: string, error: unknown): GantryError {
  if (isGantryError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GantryError('E_INTERNAL', `${doing}: ${message}`, { cause: error });
}

/** The text a user sees for an error: code, message, details, fix. */
export function formatError(error: GantryError): string {
  const lines = [`error ${error.code}: ${error.message}`];
  for (const detail of error.details) lines.push(`  ${detail}`);
  if (error.fix) lines.push(`fix: ${error.fix}`);
  return lines.join('\n');
}
