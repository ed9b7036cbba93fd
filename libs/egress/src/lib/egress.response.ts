// A fully received response from an allowed host. The body is read within the request's timeout and size
// limit, so text() and json() cannot hang or fail on the network afterwards.
import { EgressError, EgressErrorCode } from './egress.errors';

export class EgressResponse {
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: Buffer,
    /** `host[:port]` the response came from (for error messages; never the full URL, which may hold tokens). */
    readonly host: string,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch (error) {
      throw new EgressError(
        EgressErrorCode.INVALID_JSON,
        `response from ${this.host} (status ${this.status}) is not valid JSON`,
        this.host,
        { cause: error },
      );
    }
  }
}
