// bench-voice-echo: the most concurrent echo calls this box sustains. The media server (this process) runs N
// RtpSessions from @sovren/rtp with the echo application; a load generator (a child process, so it does not share
// the server's event loop) plays a caller on each: 20 ms G.711 packets of a tone, counting what comes back. Per
// level it prints the calls, packet loss both ways, the server's pacing error (|send − schedule|, p50/p99/max over
// calls), the server's CPU and RSS, and the box's load; the answer is the highest level with < 0.1 % loss and
// pacing p99 < 2 ms.
//
// Usage (repo root):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/voice/bench-voice-echo.ts [--calls 25,50,100,150,200] [--seconds 20] [--codec PCMU] [--nice -10]
// --nice sets both processes' scheduling priority (as a media unit's systemd Nice= would; negative needs root).
// Before the levels it prints the timer floor: one bare 20 ms stream on an empty clock for 5 s, no network.
import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { loadavg, setPriority } from 'node:os';
import { createRtpPortPool, g711Encode, MediaClock, RtpSession, serializeRtpPacket, startEcho } from '@sovren/rtp';
import { sharedRtpPacer, type RtpPacer } from '@sovren/rtp';
import { parseRtpPacket, seqDistance, type G711Codec, type MediaFormat } from '@sovren/rtp';

import { BenchArgs } from '../common/bench-args';
import { median, percentile } from '../common/percentile';

const LOSS_LIMIT = 0.001;
const PACING_P99_LIMIT_MS = 2;

type ToPeer = { kind: 'open'; calls: number; codec: G711Codec } | { kind: 'start'; ports: number[] } | { kind: 'stop' };
type FromPeer =
  | { kind: 'opened'; ports: number[] }
  | { kind: 'stopped'; sent: number; expected: number; received: number; lateMs99: number };

type PacingKind = 'native' | 'loop';

/**
 * Who writes the server's packets: 'native' is the service's (built a frame ahead, sent by the addon's pacer thread
 * at the due time), 'loop' sends from the event loop at the clock's tick (the peer, measured in the same run).
 */
function serverPacer(kind: PacingKind): RtpPacer | null {
  if (kind === 'loop') return null;
  const pacer = sharedRtpPacer();
  if (!pacer) throw new Error('bench-voice-echo: the native pacer is not available (npx nx run native:build)');
  return pacer;
}

interface LevelResult {
  calls: number;
  pacing: PacingKind;
  lossIn: number;
  lossOut: number;
  pacingP50: number;
  pacingP99: number;
  pacingMax: number;
  cpuPercent: number;
  rssMb: number;
  rssGrowthMb: number;
  load1: number;
  generatorLateP99: number;
}

async function runServer(): Promise<void> {
  const args = new BenchArgs('bench-voice-echo', process.argv.slice(2), {
    values: ['calls', 'seconds', 'codec', 'port-min', 'nice', 'pacing'],
  });
  const pacings = args.list('pacing', ['native', 'loop']) as PacingKind[];
  for (const p of pacings)
    if (p !== 'native' && p !== 'loop') throw new Error(`bench-voice-echo: --pacing: '${p}' is not native or loop`);
  const levels = args.intList('calls', [25, 50, 100, 150, 200], 1);
  const seconds = args.number('seconds', 20, 1);
  const codec = args.oneOf<G711Codec>('codec', 'PCMU', ['PCMU', 'PCMA']);
  const portMin = args.int('port-min', 30000, 1024);
  const nice = args.has('nice') ? Number(args.string('nice', '0')) : null;
  if (nice !== null) setPriority(nice);
  const format: MediaFormat = { codec, payloadType: codec === 'PCMU' ? 0 : 8, telephoneEventPayloadType: 101 };
  const peerArgs = nice === null ? ['--peer'] : ['--peer', '--nice', String(nice)];
  const peer = fork(__filename, peerArgs, { execArgv: process.execArgv, stdio: 'inherit' });
  const results: LevelResult[] = [];
  console.log(
    `bench-voice-echo: ${seconds} s per level, ${codec}, server pid ${process.pid}, generator pid ${peer.pid}`,
  );
  const floor = await timerFloor(5000);
  console.log(
    `timer floor (1 stream, no network, 5 s): p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms, load1 ${loadavg()[0].toFixed(2)}`,
  );
  console.log(
    'calls  pacer   loss-in%  loss-out%  pacing p50/p99/max ms  server cpu%  rss MB (+during)  load1  generator-late p99 ms',
  );
  try {
    for (const calls of levels)
      for (const pacing of pacings) {
        const result = await runLevel(peer, calls, seconds, format, portMin, pacing);
        results.push(result);
        console.log(
          [
            String(calls).padStart(5),
            pacing.padEnd(6),
            (result.lossIn * 100).toFixed(3).padStart(9),
            (result.lossOut * 100).toFixed(3).padStart(10),
            `${result.pacingP50.toFixed(2)}/${result.pacingP99.toFixed(2)}/${result.pacingMax.toFixed(2)}`.padStart(22),
            result.cpuPercent.toFixed(0).padStart(12),
            `${result.rssMb.toFixed(0)} (${result.rssGrowthMb >= 0 ? '+' : ''}${result.rssGrowthMb.toFixed(1)})`.padStart(
              16,
            ),
            result.load1.toFixed(2).padStart(6),
            result.generatorLateP99.toFixed(2).padStart(22),
          ].join(' '),
        );
      }
  } finally {
    peer.kill();
  }
  for (const pacing of pacings) {
    const passing = results.filter(
      (r) =>
        r.pacing === pacing && r.lossIn < LOSS_LIMIT && r.lossOut < LOSS_LIMIT && r.pacingP99 < PACING_P99_LIMIT_MS,
    );
    const best = passing.length ? Math.max(...passing.map((r) => r.calls)) : 0;
    console.log(
      `${pacing} pacing: most concurrent echo calls with < 0.1 % loss and pacing p99 < 2 ms: ${best} (goal >= 100)`,
    );
  }
}

/** Lateness of a lone 20 ms stream on its own clock: what the OS scheduler and Node's timers give at this load. */
async function timerFloor(ms: number): Promise<{ p50: number; p99: number }> {
  const clock = new MediaClock();
  const late: number[] = [];
  const stream = clock.schedule(20, (tick) => late.push(Math.abs(tick.nowMs - tick.dueMs)));
  await new Promise((resolve) => setTimeout(resolve, ms));
  stream.stop();
  return { p50: median(late), p99: percentile(late, 99) };
}

async function runLevel(
  peer: ChildProcess,
  calls: number,
  seconds: number,
  format: MediaFormat,
  portMin: number,
  pacing: PacingKind,
): Promise<LevelResult> {
  const clock = new MediaClock();
  const pacer = serverPacer(pacing);
  const pool = createRtpPortPool({ min: portMin, max: portMin + 2 * calls + 200, bindAddress: '127.0.0.1' });
  peer.send({ kind: 'open', calls, codec: format.codec } satisfies ToPeer);
  const opened = await nextMessage(peer, 'opened');
  const sessions: RtpSession[] = [];
  for (let i = 0; i < calls; i++) {
    const session = await RtpSession.open({
      pool,
      callId: `bench-${i}`,
      remote: { address: '127.0.0.1', port: opened.ports[i] },
      format,
      clock,
      pacer,
    });
    startEcho(session);
    sessions.push(session);
  }
  const rssBefore = process.memoryUsage().rss / 1024 / 1024;
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  peer.send({ kind: 'start', ports: sessions.map((s) => s.localPort) } satisfies ToPeer);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const load1 = loadavg()[0];
  peer.send({ kind: 'stop' } satisfies ToPeer);
  const stopped = await nextMessage(peer, 'stopped');
  const stats = sessions.map((s) => s.stats());
  const rssMb = process.memoryUsage().rss / 1024 / 1024;
  await Promise.all(sessions.map((s) => s.close()));
  const inExpected = stats.reduce((n, s) => n + s.packetsIn + s.lost, 0);
  const inLost = stats.reduce((n, s) => n + s.lost, 0);
  const perCallP99 = stats.map((s) => s.pacingP99Ms);
  return {
    calls,
    pacing,
    lossIn: inExpected ? inLost / inExpected : 1,
    lossOut: stopped.expected ? (stopped.expected - stopped.received) / stopped.expected : 1,
    pacingP50: median(perCallP99),
    pacingP99: percentile(perCallP99, 99),
    pacingMax: Math.max(...perCallP99),
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    rssMb,
    rssGrowthMb: rssMb - rssBefore,
    load1,
    generatorLateP99: stopped.lateMs99,
  };
}

function nextMessage<K extends FromPeer['kind']>(peer: ChildProcess, kind: K): Promise<Extract<FromPeer, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromPeer) => {
      if (message.kind !== kind) return;
      cleanup();
      resolve(message as Extract<FromPeer, { kind: K }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`load generator exited (${code}) while the server waited for '${kind}'`));
    };
    const cleanup = () => {
      peer.off('message', onMessage);
      peer.off('exit', onExit);
    };
    peer.on('message', onMessage);
    peer.once('exit', onExit);
  });
}

/** The load generator: one UDP socket per caller, each sending a 20 ms packet on its own phase of one clock. */
function runPeer(): void {
  const clock = new MediaClock();
  let sockets: Socket[] = [];
  let streams: { stop(): void }[] = [];
  let codec: G711Codec = 'PCMU';
  let sent = 0;
  let late: number[] = [];
  const received = new Map<number, { first: number; highest: number; count: number }>();
  const send = (message: FromPeer) => process.send?.(message);

  process.on('message', (message: ToPeer) => void onMessage(message));
  async function onMessage(message: ToPeer): Promise<void> {
    if (message.kind === 'open') {
      codec = message.codec;
      sent = 0;
      late = [];
      received.clear();
      sockets = await Promise.all(
        Array.from({ length: message.calls }, (_, i) => bindAny().then((socket) => watch(socket, i))),
      );
      send({ kind: 'opened', ports: sockets.map((s) => s.address().port) });
    } else if (message.kind === 'start') {
      const tonePcm = new Int16Array(160);
      for (let i = 0; i < 160; i++) tonePcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 400 * i) / 8000));
      const payload = g711Encode(codec, tonePcm);
      const start = clock.now();
      streams = sockets.map((socket, i) => {
        let seq = i * 1000;
        let ts = i * 100_000;
        return clock.schedule(
          20,
          (tick) => {
            late.push(tick.nowMs - tick.dueMs);
            const packet = serializeRtpPacket(
              {
                marker: tick.index === 0,
                payloadType: codec === 'PCMU' ? 0 : 8,
                sequenceNumber: seq,
                timestamp: ts,
                ssrc: 1000 + i,
              },
              payload,
            );
            seq = (seq + 1) & 0xffff;
            ts = (ts + 160) >>> 0;
            sent++;
            socket.send(packet, message.ports[i], '127.0.0.1');
          },
          start + (20 * i) / sockets.length, // spread the callers over the 20 ms, as real calls are
        );
      });
    } else {
      for (const stream of streams) stream.stop();
      let expected = 0;
      let count = 0;
      for (const r of received.values()) {
        expected += seqDistance(r.highest, r.first) + 1;
        count += r.count;
      }
      const lateMs99 = late.length ? percentile(late.map(Math.abs), 99) : 0;
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const socket of sockets) socket.close();
      send({ kind: 'stopped', sent, expected, received: count, lateMs99 });
    }
  }

  function watch(socket: Socket, call: number): Socket {
    socket.on('message', (datagram) => {
      const packet = parseRtpPacket(datagram);
      // The server's RTCP goes to our port + 1, which may be another caller's socket: count only the audio.
      if (packet.payloadType !== (codec === 'PCMU' ? 0 : 8)) return;
      const r = received.get(call);
      if (!r) received.set(call, { first: packet.sequenceNumber, highest: packet.sequenceNumber, count: 1 });
      else {
        r.count++;
        if (seqDistance(packet.sequenceNumber, r.highest) > 0) r.highest = packet.sequenceNumber;
      }
    });
    return socket;
  }
}

function bindAny(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve(socket));
  });
}

if (process.argv.includes('--peer')) {
  const niceAt = process.argv.indexOf('--nice');
  if (niceAt > 0) setPriority(Number(process.argv[niceAt + 1]));
  runPeer();
} else {
  runServer().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
