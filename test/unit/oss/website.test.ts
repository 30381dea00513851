import OSS from 'ali-oss';
import { createCtx } from '../../../src/context.js';
import { createLogger } from '../../../src/log/logger.js';
import { applyWebsite, desiredWebsite, ossWebsiteApi, parseWebsiteXml, websiteChanges, websiteXml, type WebsiteApi } from '../../../src/oss/website.js';
import { startOssServer, type OssServer } from '../../support/oss-server.js';

const quietCtx = (dryRun = false) => {
  const lines: string[] = [];
  return { ctx: createCtx({ dryRun, logger: createLogger({ write: (t) => lines.push(t), gitlab: false, color: false }) }), lines };
};

/** A bucket held in memory: what was PUT is what GET answers. */
function fakeBucket(initial: string | null): WebsiteApi & { puts: string[] } {
  let stored = initial;
  const puts: string[] = [];
  return {
    puts,
    get: async () => stored,
    put: async (xml) => {
      puts.push(xml);
      stored = xml;
    },
  };
}

describe('bucket website configuration', () => {
  test('an SPA serves index.html with status 200 for every missing path', () => {
    const xml = websiteXml(desiredWebsite({ index: 'index.html', spa: true }, ''));
    expect(xml).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<WebsiteConfiguration>',
        '  <IndexDocument>',
        '    <Suffix>index.html</Suffix>',
        '    <SupportSubDir>true</SupportSubDir>',
        '    <Type>0</Type>',
        '  </IndexDocument>',
        '  <ErrorDocument>',
        '    <Key>index.html</Key>',
        '    <HttpStatus>200</HttpStatus>',
        '  </ErrorDocument>',
        '</WebsiteConfiguration>',
      ].join('\n'),
    );
  });

  test('a 404 page answers 404; keys carry the base prefix; without either there is no ErrorDocument', () => {
    expect(desiredWebsite({ index: 'index.html', notFound: '404.html', spa: false }, 'site/')).toMatchObject({ errorKey: 'site/404.html', errorStatus: 404 });
    expect(desiredWebsite({ index: 'home.htm', spa: true }, 'site/')).toMatchObject({ index: 'home.htm', errorKey: 'site/home.htm', errorStatus: 200 });
    const plain = websiteXml(desiredWebsite({ index: 'index.html', spa: false }, ''));
    expect(plain).not.toContain('ErrorDocument');
    expect(websiteXml({ index: 'a&b.html', supportSubDir: false, type: 0, errorKey: '<x>.html', errorStatus: 404 })).toContain('<Key>&lt;x&gt;.html</Key>');
  });

  test('what OSS answers reads back to the same settings, with its defaults filled in', () => {
    const desired = desiredWebsite({ index: 'index.html', spa: true }, 'p/');
    expect(parseWebsiteXml(websiteXml(desired))).toEqual(desired);
    // OSS's own answer: a namespace, no SupportSubDir/Type/HttpStatus when they were never set.
    const bare =
      '<?xml version="1.0" encoding="UTF-8"?>\n<WebsiteConfiguration xmlns="http://doc.oss-cn-hangzhou.aliyuncs.com"><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>error.html</Key></ErrorDocument></WebsiteConfiguration>';
    expect(parseWebsiteXml(bare)).toEqual({ index: 'index.html', supportSubDir: false, type: 0, errorKey: 'error.html', errorStatus: 404 });
    const rules =
      '<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><RedirectType>External</RedirectType><HostName>example.com</HostName></Redirect></RoutingRule>';
    expect(parseWebsiteXml(bare.replace('</WebsiteConfiguration>', `<RoutingRules>${rules}</RoutingRules></WebsiteConfiguration>`)).routingRulesXml).toBe(
      rules,
    );
    expect(() => parseWebsiteXml('<Error><Code>x</Code></Error>')).toThrow();
  });

  test('differences are listed setting by setting; equal settings (defaults included) are no change', () => {
    const spa = desiredWebsite({ index: 'index.html', spa: true }, '');
    const notFound = desiredWebsite({ index: 'index.html', notFound: '404.html', spa: false }, '');
    expect(websiteChanges(spa, spa)).toEqual([]);
    expect(websiteChanges(notFound, spa)).toEqual(['ErrorDocument/Key: 404.html -> index.html', 'ErrorDocument/HttpStatus: 404 -> 200']);
    expect(websiteChanges(null, spa)[0]).toBe('no website hosting yet');
    // HttpStatus left out by OSS means 404: the same as asking for 404.
    const bare = parseWebsiteXml(
      '<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix><SupportSubDir>true</SupportSubDir><Type>0</Type></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument></WebsiteConfiguration>',
    );
    expect(websiteChanges(bare, notFound)).toEqual([]);
    expect(websiteChanges({ ...spa, supportSubDir: false, type: 1 }, spa)).toEqual([
      'IndexDocument/SupportSubDir: false -> true',
      'IndexDocument/Type: (none) -> 0',
    ]);
  });

  test('applied once; a second run reads, finds it equal and sends nothing', async () => {
    const bucket = fakeBucket(null);
    const desired = desiredWebsite({ index: 'index.html', spa: true }, '');
    const first = await applyWebsite(quietCtx().ctx, bucket, desired);
    expect(first).toMatchObject({ changed: true, applied: true });
    expect(bucket.puts).toHaveLength(1);
    const second = await applyWebsite(quietCtx().ctx, bucket, desired);
    expect(second).toMatchObject({ changed: false, applied: false });
    expect(bucket.puts).toHaveLength(1);
  });

  test('--dry-run prints the XML it would send and sends nothing', async () => {
    const bucket = fakeBucket(null);
    const { ctx, lines } = quietCtx(true);
    const r = await applyWebsite(ctx, bucket, desiredWebsite({ index: 'index.html', spa: true }, ''));
    expect(r).toMatchObject({ changed: true, applied: false });
    expect(bucket.puts).toEqual([]);
    const out = lines.join('');
    expect(out).toContain('would PUT ?website:');
    expect(out).toContain('<HttpStatus>200</HttpStatus>');
  });

  test("routing rules set in the console survive Gantry's PUT", async () => {
    const rules =
      '<RoutingRule><RuleNumber>1</RuleNumber><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><RedirectType>External</RedirectType><HostName>example.com</HostName></Redirect></RoutingRule>';
    const bucket = fakeBucket(
      `<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RoutingRules>${rules}</RoutingRules></WebsiteConfiguration>`,
    );
    await applyWebsite(quietCtx().ctx, bucket, desiredWebsite({ index: 'index.html', spa: true }, ''));
    expect(bucket.puts[0]).toContain(`<RoutingRules>${rules}</RoutingRules>`);
  });

  describe('against the OSS test server through the real ali-oss client', () => {
    const keyId = 'LTAI5tWebsiteKeyId';
    const secret = 'website-test-secret-0123456789';
    let oss: OssServer;
    beforeAll(async () => {
      oss = await startOssServer({ accessKeyId: keyId, accessKeySecret: secret, buckets: ['web-a'] });
    });
    afterAll(() => oss.close());
    const target = () => ({ bucket: 'web-a', region: 'oss-cn-hangzhou', endpoint: oss.endpoint, accessKeyId: keyId, accessKeySecret: secret });

    test('the signed raw request carries HttpStatus; ali-oss reads the configuration back', async () => {
      const api = ossWebsiteApi(quietCtx().ctx, target(), 1);
      expect(await api.get()).toBeNull();
      await applyWebsite(quietCtx().ctx, api, desiredWebsite({ index: 'index.html', spa: true }, ''));
      expect(oss.website('web-a')).toMatchObject({ suffix: 'index.html', supportSubDir: 'true', type: '0', errorKey: 'index.html', errorStatus: '200' });
      const client = new OSS({
        accessKeyId: keyId,
        accessKeySecret: secret,
        bucket: 'web-a',
        region: 'oss-cn-hangzhou',
        endpoint: oss.endpoint,
        secure: false,
      });
      expect(await client.getBucketWebsite('web-a')).toMatchObject({ index: 'index.html', supportSubDir: 'true', error: 'index.html' });
      const before = oss.requests.length;
      await applyWebsite(quietCtx().ctx, api, desiredWebsite({ index: 'index.html', spa: true }, ''));
      expect(oss.requests.slice(before).map((r) => r.method)).toEqual(['GET']);
    });

    test('a wrong secret is E_OSS_ACCESS; a refused document is E_OSS_WEBSITE', async () => {
      const wrong = ossWebsiteApi(quietCtx().ctx, { ...target(), accessKeySecret: 'not-the-secret' }, 0);
      await expect(wrong.get()).rejects.toMatchObject({ code: 'E_OSS_ACCESS' });
      const api = ossWebsiteApi(quietCtx().ctx, target(), 0);
      await expect(
        api.put(websiteXml({ index: 'index.html', supportSubDir: true, type: 0, errorKey: 'x.html', errorStatus: 'two hundred' as never })),
      ).rejects.toMatchObject({
        code: 'E_OSS_WEBSITE',
      });
    });
  });
});
