// The global Nest module that provides PlatformConfig (the class itself is the injection token).
import { DynamicModule, Module } from '@nestjs/common';

import { loadPlatformConfig, PlatformConfig } from './platform-config';

@Module({})
export class ConfigModule {
  /** Pass a config to use it as is (tests); without one the process environment is loaded and validated. */
  static forRoot(config?: PlatformConfig): DynamicModule {
    return {
      module: ConfigModule,
      global: true,
      providers: [{ provide: PlatformConfig, useFactory: () => config ?? loadPlatformConfig() }],
      exports: [PlatformConfig],
    };
  }
}
