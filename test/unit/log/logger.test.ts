import { createLogger } from '../../../src/log/logger.js';

function capture(options: { gitlab?: boolean; color?: boolean } = {}) {
  let out = '';
  const logger = createLogger({ write: (t) => (out += t), now: () => 1700000000, gitlab: false, color: false, ...options });
  return { logger, text: () => out };
}

describe('CI logger', () => {
  test('known secrets are masked on every line, the longest first', () => {
    const { logger, text } = capture();
    logger.addSecret('hunter2-long-password');
    logger.addSecret('hunter2');
    logger.info('login with hunter2-long-password then hunter2');
    logger.error('failed: hunter2');
    expect(text()).toBe('login with [MASKED] then [MASKED]\nfailed: [MASKED]\n');
    expect(text()).not.toContain('hunter2');
  });

  test('a secret with a quote, backslash or newline is masked in its JSON-quoted form too (how refused values are shown)', () => {
    const { logger, text } = capture();
    logger.addSecret('pa"ss\\wo\nrd');
    logger.error(`--image: ${JSON.stringify('robot:pa"ss\\wo\nrd@host/app:v1')} is not an image reference`);
    expect(text()).toBe('--image: "robot:[MASKED]@host/app:v1" is not an image reference\n');
  });

  test('values too short to mask safely are not registered', () => {
    const { logger, text } = capture();
    logger.addSecret('a');
    logger.info('a cat');
    expect(text()).toBe('a cat\n');
  });

  test('in GitLab CI each step is a collapsible section, closed even when the step throws', async () => {
    const { logger, text } = capture({ gitlab: true });
    await expect(
      logger.section('gantry render', 'render staging', async () => {
        logger.info('inside');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(text()).toBe(
      '\u001b[0Ksection_start:1700000000:gantry_render[collapsed=true]\r\u001b[0Krender staging\ninside\n\u001b[0Ksection_end:1700000000:gantry_render\r\u001b[0K\n',
    );
  });

  test('outside GitLab a section is a plain header, colour only when asked', async () => {
    const plain = capture();
    expect(await plain.logger.section('s', 'header', async () => 42)).toBe(42);
    plain.logger.warn('careful');
    expect(plain.text()).toBe('== header\nwarning: careful\n');
    const coloured = capture({ color: true });
    coloured.logger.warn('careful');
    expect(coloured.text()).toBe('\u001b[33mwarning: careful\u001b[0m\n');
  });
});
