// IPA phonemes from the espeak-ng CLI (Debian package `espeak-ng`). One process per batch of clauses (espeak-ng
// holds its last clause back until end of input, so a long-lived process cannot answer clause by clause), a bound
// on processes running at once, and a small LRU cache for phrases that recur (greetings, prompts).
import { spawn } from 'node:child_process';

export interface Phonemiser {
  /** One IPA string per input clause, in order. */
  phonemise(clauses: readonly string[], voice: string): Promise<string[]>;
}

export interface EspeakPhonemiserOptions {
  /** Executable (default `espeak-ng` on PATH). */
  command?: string;
  /** espeak-ng processes running at once (default 4); further batches wait their turn in order. */
  maxProcesses?: number;
  /** Clauses remembered (default 2 000). */
  cacheSize?: number;
  /** A batch that takes longer is killed and fails (default 10 s). */
  timeoutMs?: number;
}

export class PhonemiserError extends Error {
  override name = 'PhonemiserError';
}

const VOICE_PATTERN = /^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$/i;
/** Characters that would make espeak-ng start a new clause (or read a symbol name) inside one of ours. */
const CLAUSE_BREAKERS = /[.!?…,;:—–"()[\]{}<>|\\/*_~^`]/g;

export class EspeakPhonemiser implements Phonemiser {
  private readonly command: string;
  private readonly maxProcesses: number;
  private readonly cacheSize: number;
  private readonly timeoutMs: number;
  private readonly cache = new Map<string, string>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(options: EspeakPhonemiserOptions = {}) {
    this.command = options.command ?? 'espeak-ng';
    this.maxProcesses = options.maxProcesses ?? 4;
    this.cacheSize = options.cacheSize ?? 2_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async phonemise(clauses: readonly string[], voice: string): Promise<string[]> {
    if (!VOICE_PATTERN.test(voice)) throw new PhonemiserError(`invalid espeak-ng voice ${JSON.stringify(voice)}`);
    const cleaned = clauses.map((c) => c.replace(CLAUSE_BREAKERS, ' ').replace(/\s+/g, ' ').trim());
    const result: Array<string | undefined> = cleaned.map((c) => (c === '' ? '' : this.cached(`${voice}\n${c}`)));
    const missing = [...new Set(cleaned.filter((c, i) => result[i] === undefined))];
    if (missing.length > 0) {
      const phonemes = await this.run(missing, voice);
      missing.forEach((clause, i) => this.remember(`${voice}\n${clause}`, phonemes[i]));
      cleaned.forEach((c, i) => {
        if (result[i] === undefined) result[i] = phonemes[missing.indexOf(c)];
      });
    }
    return result as string[];
  }

  /** One process for the batch; if espeak-ng split a clause differently from us, one process per clause. */
  private async run(clauses: string[], voice: string): Promise<string[]> {
    const lines = await this.spawnEspeak(clauses.map((c) => `${c}.`).join('\n'), voice);
    if (lines.length === clauses.length) return lines;
    return Promise.all(clauses.map(async (c) => (await this.spawnEspeak(`${c}.`, voice)).join(' ')));
  }

  private async spawnEspeak(text: string, voice: string): Promise<string[]> {
    await this.acquire();
    try {
      return await new Promise<string[]>((resolve, reject) => {
        const child = spawn(this.command, ['-q', '--ipa', '-v', voice, '--stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => err.push(d));
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(new PhonemiserError(`cannot run ${this.command}: ${error.message}`));
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          if (code !== 0) {
            const reason = signal ? `killed by ${signal} (timeout ${this.timeoutMs} ms?)` : `exit code ${code}`;
            reject(new PhonemiserError(`${this.command} failed (${reason}): ${Buffer.concat(err).toString().trim()}`));
            return;
          }
          const lines = Buffer.concat(out)
            .toString('utf8')
            .replace(/\u200d/g, '')
            .split('\n')
            .map((l) => l.trim().replace(/\s+/g, ' '))
            .filter((l) => l.length > 0);
          resolve(lines);
        });
        child.stdin.on('error', (error) => reject(new PhonemiserError(`writing to ${this.command}: ${error.message}`)));
        child.stdin.end(text);
      });
    } finally {
      this.release();
    }
  }

  private cached(key: string): string | undefined {
    const value = this.cache.get(key);
    if (value !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, value);
    }
    return value;
  }

  private remember(key: string, value: string): void {
    this.cache.set(key, value);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
  }

  private async acquire(): Promise<void> {
    if (this.running < this.maxProcesses) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
