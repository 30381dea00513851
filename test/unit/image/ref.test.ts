import { formatImageRef, imageRefProblem, imageTagProblem, parseImageRef, toPullHost } from '../../../src/image/ref.js';

const digest = `sha256:${'0f'.repeat(32)}`;

describe('image references', () => {
  test.each([
    ['registry.cn-hangzhou.aliyuncs.com/acme/hello:1a2b3c4d', { host: 'registry.cn-hangzhou.aliyuncs.com', repository: 'acme/hello', tag: '1a2b3c4d' }],
    [`crpi-x1-vpc.cn-hangzhou.personal.cr.aliyuncs.com/acme/hello@${digest}`, { host: 'crpi-x1-vpc.cn-hangzhou.personal.cr.aliyuncs.com', digest }],
    [`127.0.0.1:5000/acme/hello:main@${digest}`, { host: '127.0.0.1:5000', tag: 'main', digest }],
    ['localhost/app:v1', { host: 'localhost', repository: 'app' }],
    ['library/node:20-slim', { host: '', repository: 'library/node', tag: '20-slim' }],
  ])('%s parses and formats back', (text, expected) => {
    const ref = parseImageRef(text);
    expect(ref).toMatchObject(expected);
    expect(formatImageRef(ref)).toBe(text);
  });

  test.each(['acme/Hello:1', 'acme/hello', 'acme/hello@sha256:short', 'acme/hello:-bad', ''])('%p is refused as bad input', (text) => {
    expect(() => parseImageRef(text)).toThrow(expect.objectContaining({ code: 'E_IMAGE_REF', exitCode: 2 }));
  });

  test('only images on the push host move to the pull host', () => {
    const pushed = parseImageRef('registry.cn-shanghai.aliyuncs.com/acme/app:abc');
    expect(toPullHost(pushed, 'registry.cn-shanghai.aliyuncs.com', 'registry-vpc.cn-shanghai.aliyuncs.com').host).toBe('registry-vpc.cn-shanghai.aliyuncs.com');
    const elsewhere = parseImageRef('other.example.com/acme/app:abc');
    expect(toPullHost(elsewhere, 'registry.cn-shanghai.aliyuncs.com', 'registry-vpc.cn-shanghai.aliyuncs.com').host).toBe('other.example.com');
  });

  test.each([
    ['registry.example.com/acme/hello:1\n', /whitespace or a control character/],
    [' registry.example.com/acme/hello:1', /whitespace/],
    ['registry.example.com/acme/hello:1\nimage: evil', /whitespace/],
    ['reg_istry.example.com/acme/hello:1', /registry host "reg_istry.example.com"/],
    ['-bad.example.com/acme/hello:1', /registry host/],
    [`registry.example.com/${'a'.repeat(240)}:1`, /the name is 261 characters, at most 255/],
    [`registry.example.com/acme/hello:${'t'.repeat(129)}`, /the tag is 129 characters/],
    ['', /empty/],
  ])('%p is refused without trimming, with the reason', (text, why) => {
    expect(imageRefProblem(text)).toMatch(why);
    expect(() => parseImageRef(text)).toThrow(expect.objectContaining({ code: 'E_IMAGE_REF', exitCode: 2 }));
  });

  test('bracketed IPv6 hosts and ports are hosts; tags without a tag are allowed where no tag is needed', () => {
    expect(parseImageRef('[::1]:5000/acme/hello:1').host).toBe('[::1]:5000');
    expect(imageRefProblem('busybox')).toBeUndefined();
    expect(imageRefProblem('busybox', { needTag: true })).toMatch(/give a tag or a digest/);
  });

  test.each([
    ['01234567', undefined],
    ['v1.2_3-rc', undefined],
    ['', /empty/],
    ['-x', /a tag is/],
    ['.x', /a tag is/],
    ['a\nb', /a tag is/],
    ['t'.repeat(128), undefined],
  ])('tag %p', (tag, why) => {
    if (why) expect(imageTagProblem(tag)).toMatch(why);
    else expect(imageTagProblem(tag)).toBeUndefined();
  });
});
