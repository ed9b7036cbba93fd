// The wire shape of an error reply, shared by NatsClient.respond (writer) and NatsClient.request (reader).

/** Header marking a reply as an error reply, so that no success payload can be mistaken for one. */
export const ERROR_REPLY_HEADER = 'Sovren-Error';

export interface ErrorReply {
  error: { code: string; message: string };
}

/** Turns whatever a handler threw into an error reply; keeps the error's own `code` when it has one. */
export function toErrorReply(error: unknown): ErrorReply {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return { error: { code: typeof code === 'string' && code.length > 0 ? code : 'INTERNAL', message: error.message } };
  }
  return { error: { code: 'INTERNAL', message: String(error) } };
}

export function isErrorReply(value: unknown): value is ErrorReply {
  if (typeof value !== 'object' || value === null) return false;
  const inner = (value as { error?: unknown }).error;
  return (
    typeof inner === 'object' &&
    inner !== null &&
    typeof (inner as { code?: unknown }).code === 'string' &&
    typeof (inner as { message?: unknown }).message === 'string'
  );
}
