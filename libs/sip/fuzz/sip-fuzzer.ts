// Mutation fuzzer for the SIP stack's parsers (message, headers, URIs, SDP, digest, TCP framing).
// A crash is any exception other than SipParseError, or a parse that takes pathological time. Seeded and
// deterministic: a failing input is written out and can be replayed with --replay.
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  SipParseError,
  SipStreamFramer,
  negotiateAudio,
  parseDigestChallenge,
  parseNameAddr,
  parseSdp,
  parseSipMessage,
  parseSipUri,
  parseVia,
  serializeSipMessage,
} from '../src/index';

export function loadCorpus(dir: string): Buffer[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.sip'))
    .sort()
    .map((name) => readFileSync(join(dir, name)));
}

/** xorshift32: a small seeded generator so runs are reproducible. */
export class Rng {
  constructor(private state: number) {
    if (this.state === 0) this.state = 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

const INTERESTING = [
  '0',
  '-1',
  '4294967296',
  '99999999999999999999',
  '65536',
  '\r\n',
  '\r\n\r\n',
  ' ',
  '\t',
  ',',
  ';',
  ':',
  '<',
  '>',
  '"',
  '\\',
  '@',
  '[',
  ']',
  '=',
  '%',
  '%zz',
  '\0',
  'Content-Length: 99999\r\n',
  'l: 0\r\n',
  'Via: SIP/2.0/UDP [::1]:0;branch=z9hG4bK\r\n',
  'm=audio 70000 RTP/AVP 200\r\n',
  'a=rtpmap:0 PCMU/0\r\n',
  'c=IN IP4 \r\n',
  'Digest realm="',
  'é',
];

export function mutate(input: Buffer, rng: Rng, corpus: Buffer[]): Buffer {
  let data = Buffer.from(input);
  const rounds = 1 + rng.below(4);
  for (let r = 0; r < rounds; r += 1) {
    const at = rng.below(data.length + 1);
    switch (rng.below(9)) {
      case 0: // flip a bit
        if (data.length > 0) data[at % data.length] ^= 1 << rng.below(8);
        break;
      case 1: // random byte
        if (data.length > 0) data[at % data.length] = rng.below(256);
        break;
      case 2: // delete a run
        data = Buffer.concat([data.subarray(0, at), data.subarray(at + 1 + rng.below(16))]);
        break;
      case 3: // insert an interesting token
        data = Buffer.concat([
          data.subarray(0, at),
          Buffer.from(INTERESTING[rng.below(INTERESTING.length)]),
          data.subarray(at),
        ]);
        break;
      case 4: {
        // duplicate a run
        const len = 1 + rng.below(64);
        data = Buffer.concat([data.subarray(0, at), data.subarray(at, at + len), data.subarray(at)]);
        break;
      }
      case 5: {
        // splice with another corpus entry
        const other = corpus[rng.below(corpus.length)];
        const from = rng.below(other.length);
        data = Buffer.concat([data.subarray(0, at), other.subarray(from, from + rng.below(200))]);
        break;
      }
      case 6: {
        // swap two lines
        const lines = data.toString('latin1').split('\r\n');
        const a = rng.below(lines.length);
        const b = rng.below(lines.length);
        [lines[a], lines[b]] = [lines[b], lines[a]];
        data = Buffer.from(lines.join('\r\n'), 'latin1');
        break;
      }
      case 7: {
        // replace a number with a boundary value
        const text = data.toString('latin1');
        const numbers = [...text.matchAll(/\d+/g)];
        if (numbers.length > 0) {
          const m = numbers[rng.below(numbers.length)];
          const value = INTERESTING[rng.below(5)];
          data = Buffer.from(text.slice(0, m.index) + value + text.slice((m.index ?? 0) + m[0].length), 'latin1');
        }
        break;
      }
      default: // truncate
        data = data.subarray(0, at);
    }
    if (data.length > 70_000) data = data.subarray(0, 70_000);
  }
  return data;
}

/** Runs every parser over one input. Returns normally for valid or cleanly refused input; throws on a crash. */
export function exercise(input: Buffer): 'parsed' | 'refused' {
  const refuse = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
    }
  };
  const framer = new SipStreamFramer();
  refuse(() => {
    for (const frame of framer.push(input)) refuse(() => parseSipMessage(frame, { stream: true }));
  });
  const text = input.toString('latin1');
  for (const line of text.split('\r\n').slice(0, 64)) {
    const value = line.slice(line.indexOf(':') + 1);
    refuse(() => parseVia(value));
    refuse(() => parseNameAddr(value));
    refuse(() => parseSipUri(value.replace(/^.*</, '').replace(/>.*$/, '')));
    refuse(() => parseDigestChallenge(value));
  }
  refuse(() => negotiateAudio(parseSdp(text)));
  try {
    const message = parseSipMessage(input);
    // A message we accept must survive our own serializer and parse again identically.
    const again = parseSipMessage(serializeSipMessage(message));
    const withoutLength = (list: ReadonlyArray<readonly [string, string]>): string =>
      JSON.stringify(list.filter(([name]) => name !== 'Content-Length'));
    if (
      withoutLength(again.headers.list()) !== withoutLength(message.headers.list()) ||
      !again.body.equals(message.body)
    ) {
      throw new Error('serialize/parse round trip changed the headers');
    }
    if (message.body.length > 0) refuse(() => negotiateAudio(parseSdp(message.body.toString('utf8'))));
    return 'parsed';
  } catch (error) {
    if (error instanceof SipParseError) return 'refused';
    throw error;
  }
}

export interface FuzzResult {
  iterations: number;
  parsed: number;
  refused: number;
  crashes: number;
  slowestMs: number;
}

export function runFuzz(options: {
  corpus: Buffer[];
  seed: number;
  iterations?: number;
  seconds?: number;
  crashDir?: string;
  slowMs?: number;
  onProgress?: (result: FuzzResult) => void;
}): FuzzResult {
  const rng = new Rng(options.seed);
  const result: FuzzResult = { iterations: 0, parsed: 0, refused: 0, crashes: 0, slowestMs: 0 };
  const deadline = options.seconds === undefined ? Infinity : Date.now() + options.seconds * 1000;
  const limit = options.iterations ?? Infinity;
  let lastReport = Date.now();
  const pool = [...options.corpus];
  while (result.iterations < limit && Date.now() < deadline) {
    const input = mutate(pool[rng.below(pool.length)], rng, options.corpus);
    const started = performance.now();
    try {
      const outcome = exercise(input);
      if (outcome === 'parsed') {
        result.parsed += 1;
        // Keep some accepted mutants so later mutations go deeper into valid territory.
        if (pool.length < 2000 && rng.below(8) === 0) pool.push(input);
      } else result.refused += 1;
    } catch (error) {
      result.crashes += 1;
      if (options.crashDir) {
        mkdirSync(options.crashDir, { recursive: true });
        writeFileSync(join(options.crashDir, `crash-${options.seed}-${result.iterations}.sip`), input);
      }
      process.stderr.write(
        `crash at iteration ${result.iterations}: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
    }
    const elapsed = performance.now() - started;
    result.slowestMs = Math.max(result.slowestMs, elapsed);
    if (options.slowMs !== undefined && elapsed > options.slowMs) {
      result.crashes += 1;
      process.stderr.write(`slow input (${elapsed.toFixed(1)} ms) at iteration ${result.iterations}\n`);
      if (options.crashDir) {
        mkdirSync(options.crashDir, { recursive: true });
        writeFileSync(join(options.crashDir, `slow-${options.seed}-${result.iterations}.sip`), input);
      }
    }
    result.iterations += 1;
    if (options.onProgress && Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      options.onProgress(result);
    }
  }
  return result;
}
