// Specification of the guard's own settings: SOVREN_TRUSTED_PROXIES and SOVREN_PUBLIC_ORIGINS, validated at start-up.
import { loadAuthGuardSettings } from '../auth-guard.env';

describe('auth guard settings', () => {
  it('trusts no proxy and adds no origin by default', () => {
    expect(loadAuthGuardSettings({})).toEqual({ trustedProxies: [], publicOrigins: [] });
    expect(loadAuthGuardSettings({ SOVREN_TRUSTED_PROXIES: 'none', SOVREN_PUBLIC_ORIGINS: 'none' })).toEqual({
      trustedProxies: [],
      publicOrigins: [],
    });
  });

  it('reads comma-separated addresses, CIDR blocks (IPv4 and IPv6) and origins', () => {
    const settings = loadAuthGuardSettings({
      SOVREN_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1',
      SOVREN_PUBLIC_ORIGINS: 'https://sovren.example.com,http://localhost:8080/',
    });
    expect(settings.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
    expect(settings.publicOrigins).toEqual(['https://sovren.example.com', 'http://localhost:8080']);
  });

  it.each([
    ['SOVREN_TRUSTED_PROXIES', '10.0.0.0/33', /SOVREN_TRUSTED_PROXIES.*prefix outside 0-32/],
    ['SOVREN_TRUSTED_PROXIES', 'proxy.example.com', /SOVREN_TRUSTED_PROXIES.*not an IP address/],
    ['SOVREN_PUBLIC_ORIGINS', 'https://sovren.example.com/app', /SOVREN_PUBLIC_ORIGINS.*no path/],
    ['SOVREN_PUBLIC_ORIGINS', 'sovren.example.com', /SOVREN_PUBLIC_ORIGINS/],
  ])('refuses %s=%s naming the variable and the entry', (variable, value, message) => {
    expect(() => loadAuthGuardSettings({ [variable]: value })).toThrow(message);
  });
});
