// A real SMTP server (smtp-server) on 127.0.0.1 and a free port that keeps every message it receives, so tests
// can wait for the mail a service sends.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export class SmtpTestServer {
  readonly received: ReceivedMail[] = [];
  private readonly server: SMTPServer;
  port = 0;

  private constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
  }

  static async start(): Promise<SmtpTestServer> {
    const instance = new SmtpTestServer();
    instance.port = await new Promise<number>((resolve, reject) => {
      instance.server.on('error', reject);
      instance.server.listen(0, '127.0.0.1', () => {
        const address = instance.server.server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    return instance;
  }

  /** Waits until a received mail matches, or throws after `timeoutMs`. */
  async waitFor(match: (mail: ReceivedMail) => boolean, timeoutMs: number): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching mail after ${timeoutMs} ms; received: ${this.received.map((m) => m.raw.split('\n').find((l) => l.startsWith('Subject:'))).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
