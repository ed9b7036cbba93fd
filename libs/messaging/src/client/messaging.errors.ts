// Errors raised by NatsClient, each with a stable code and a message naming the subject involved.

export enum MessagingErrorCode {
  Timeout = 'MESSAGING_TIMEOUT',
  NoResponders = 'MESSAGING_NO_RESPONDERS',
  Remote = 'MESSAGING_REMOTE_ERROR',
  Unavailable = 'MESSAGING_UNAVAILABLE',
  BadReply = 'MESSAGING_BAD_REPLY',
}

export class MessagingError extends Error {
  constructor(
    readonly code: MessagingErrorCode,
    readonly subject: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Nobody replied within the timeout (the responder is slow, stuck or was lost mid-request). */
export class MessagingTimeoutError extends MessagingError {
  constructor(
    subject: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(MessagingErrorCode.Timeout, subject, `No reply on NATS subject "${subject}" within ${timeoutMs} ms`, options);
  }
}

/** NATS knows nobody is subscribed to the subject: the service is down or not started yet. */
export class NoRespondersError extends MessagingError {
  constructor(subject: string, options?: { cause?: unknown }) {
    super(
      MessagingErrorCode.NoResponders,
      subject,
      `No responders on NATS subject "${subject}": no running service answers it (or no JetStream stream captures it)`,
      options,
    );
  }
}

/** The responder ran and reported an error; `remoteCode` is the code it sent back. */
export class RemoteError extends MessagingError {
  constructor(
    subject: string,
    readonly remoteCode: string,
    readonly remoteMessage: string,
  ) {
    super(MessagingErrorCode.Remote, subject, `Responder on "${subject}" failed with ${remoteCode}: ${remoteMessage}`);
  }
}

/** There is no live NATS connection (not connected yet, reconnecting, or drained). */
export class MessagingUnavailableError extends MessagingError {
  constructor(subject: string, state: string) {
    super(MessagingErrorCode.Unavailable, subject, `Cannot use NATS subject "${subject}": the connection is ${state}`);
  }
}

/** The reply could not be decoded as JSON. */
export class BadReplyError extends MessagingError {
  constructor(subject: string, options?: { cause?: unknown }) {
    super(MessagingErrorCode.BadReply, subject, `Reply on NATS subject "${subject}" is not valid JSON`, options);
  }
}
