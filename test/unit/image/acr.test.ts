import { defaultPullHost, parseAcrHost } from '../../../src/image/acr.js';

describe('ACR hosts', () => {
  test.each([
    ['registry.cn-hangzhou.aliyuncs.com', 'personal-classic', 'cn-hangzhou', false, 'registry-vpc.cn-hangzhou.aliyuncs.com'],
    ['registry-vpc.cn-shanghai.aliyuncs.com', 'personal-classic', 'cn-shanghai', true, 'registry-vpc.cn-shanghai.aliyuncs.com'],
    ['crpi-ab12cd34.cn-hangzhou.personal.cr.aliyuncs.com', 'personal', 'cn-hangzhou', false, 'crpi-ab12cd34-vpc.cn-hangzhou.personal.cr.aliyuncs.com'],
    ['crpi-ab12cd34-vpc.cn-beijing.personal.cr.aliyuncs.com', 'personal', 'cn-beijing', true, 'crpi-ab12cd34-vpc.cn-beijing.personal.cr.aliyuncs.com'],
    ['acme-prod-registry.cn-shenzhen.cr.aliyuncs.com', 'enterprise', 'cn-shenzhen', false, 'acme-prod-registry-vpc.cn-shenzhen.cr.aliyuncs.com'],
    ['acme-registry-vpc.ap-southeast-1.cr.aliyuncs.com', 'enterprise', 'ap-southeast-1', true, 'acme-registry-vpc.ap-southeast-1.cr.aliyuncs.com'],
  ])('%s is a %s instance in %s (vpc %s), pulled from %s', (host, kind, region, vpc, vpcHost) => {
    expect(parseAcrHost(host)).toMatchObject({ kind, region, vpc, vpcHost });
    expect(defaultPullHost(host, undefined)).toBe(vpcHost);
  });

  test('other registries and explicit pull hosts are left alone', () => {
    expect(parseAcrHost('127.0.0.1:5000')).toBeUndefined();
    expect(parseAcrHost('registry.example.com')).toBeUndefined();
    expect(defaultPullHost('127.0.0.1:5000', undefined)).toBe('127.0.0.1:5000');
    expect(defaultPullHost('registry.cn-hangzhou.aliyuncs.com', 'mirror.internal:5000')).toBe('mirror.internal:5000');
  });
});
