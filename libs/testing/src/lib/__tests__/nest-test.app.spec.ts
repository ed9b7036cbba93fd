// startNestApp: the module's routes behind the platform's HTTP conventions, on loopback, with the test's env.
import { Controller, Get, Module, NotFoundException } from '@nestjs/common';

import { call } from '../envelope-http.client';
import { startNestApp } from '../nest-test.app';

@Controller('probe')
class ProbeController {
  @Get()
  read(): { setting: string | undefined } {
    return { setting: process.env['SOVREN_TESTING_PROBE'] };
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException('nothing here');
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

describe('startNestApp', () => {
  it('applies env, serves the module in the platform envelope on 127.0.0.1 and runs ready before handing over', async () => {
    let readyRan = false;
    const running = await startNestApp(ProbeModule, {
      env: { SOVREN_TESTING_PROBE: 'from-env' },
      ready: () => {
        readyRan = true;
      },
    });
    try {
      expect(readyRan).toBe(true);
      expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
      const answer = await call<{ setting: string }>(`${running.url}/probe`, { headers: { 'x-request-id': 'req-1' } });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ success: true, data: { setting: 'from-env' } });
      expect(answer.headers.get('x-request-id')).toBe('req-1');
      const missing = await call(`${running.url}/probe/missing`);
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    } finally {
      await running.close();
    }
  });

  it('closes the app when ready fails, so nothing is left listening', async () => {
    let url = '';
    await expect(
      startNestApp(ProbeModule, {
        ready: (app) => {
          url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
          throw new Error('subscriptions not flushed');
        },
      }),
    ).rejects.toThrow('subscriptions not flushed');
    await expect(fetch(`${url}/probe`)).rejects.toThrow();
  });
});
