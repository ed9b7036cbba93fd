// Builds a PlatformConfig for tests from explicit variables only, so the developer's shell never leaks in.
import { loadPlatformConfig, PlatformConfig } from '../lib/platform-config';

export function testPlatformConfig(env: NodeJS.ProcessEnv = {}): PlatformConfig {
  return loadPlatformConfig({ NODE_ENV: 'test', SOVREN_LOG_LEVEL: 'warn', ...env });
}
