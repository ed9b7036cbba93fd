// Marks a route whose result is sent as is, without the { success, data, meta } envelope (Prometheus text,
// OpenAI-compatible shapes). It lives here, not in @sovren/http, so that both libs can use it without a cycle.
import { SetMetadata } from '@nestjs/common';

export const RAW_RESPONSE_KEY = 'sovren:raw-response';

export const RawResponse = (): MethodDecorator & ClassDecorator => SetMetadata(RAW_RESPONSE_KEY, true);
