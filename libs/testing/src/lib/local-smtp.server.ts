// A real SMTP server (smtp-server) on 127.0.0.1 that keeps every message it accepts, so tests can wait for the
// mail a service sends. It can refuse the first messages with a temporary 451 to exercise retries.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface LocalSmtpServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Answer this many messages with `451 mailbox busy` before accepting any. */
  rejectFirst?: number;
}

export interface LocalSmtpServer {
  port: number;
  received: ReceivedMail[];
  /** How many messages were refused so far (see `rejectFirst`). */
  rejected(): number;
  /** Resolves with the first message (already received or arriving later) that matches; rejects after `timeoutMs`. */
  waitFor(match: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

interface Waiter {
  match: (mail: ReceivedMail) => boolean;
  resolve: (mail: ReceivedMail) => void;
}

export async function startSmtpServer(options: LocalSmtpServerOptions = {}): Promise<LocalSmtpServer> {
  const received: ReceivedMail[] = [];
  const waiters: Waiter[] = [];
  let toReject = options.rejectFirst ?? 0;
  let rejected = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (toReject > 0) {
          toReject -= 1;
          rejected += 1;
          callback(Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 }));
          return;
        }
        const mail: ReceivedMail = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((address) => address.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        };
        received.push(mail);
        for (const waiter of [...waiters]) {
          if (waiter.match(mail)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(mail);
          }
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : (options.port ?? 0),
    received,
    rejected: () => rejected,
    waitFor: (match, timeoutMs = 30_000) => {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          match,
          resolve: (mail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const subjects = received.map(
            (m) =>
              m.raw
                .split('\n')
                .find((l) => l.startsWith('Subject:'))
                ?.trim() ?? '(no subject)',
          );
          reject(new Error(`no matching mail after ${timeoutMs} ms; received: ${subjects.join(' | ') || 'nothing'}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
