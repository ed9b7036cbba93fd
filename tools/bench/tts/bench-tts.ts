// bench-tts: what a caller waits for before hearing speech, piece by piece, and what VAD costs per frame.
// Per sentence: the text front end (normalise + clause split), espeak-ng phonemes (the first clause alone, as the
// service does, and the whole sentence), the first model run, time to first audio (their sum) and the real-time
// factor (model time / audio time) of the whole sentence — model time printed apart from the rest. Then Silero VAD
// per 32 ms frame on real espeak-ng speech. Goals: < 100 ms to first audio of a sentence with Kokoro-82M on the GPU
// server; VAD < 1 ms per 32 ms frame per call.
//
// The model: --model <folder> (model.onnx + config.json + voices/), else the first folder in
// $SOVREN_ROOT/models/tts, else the Kokoro-signature test model written to a temp folder (labelled as such).
//
// Usage (repo root; needs espeak-ng):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/tts/bench-tts.ts [--model <dir>] [--voice <name>] [--provider cpu|cuda] [--frames 2000]
import { readWav, resample } from '@sovren/audio';
import {
  EspeakPhonemiser,
  normaliserFor,
  planChunks,
  SileroVad,
  splitClauses,
  TtsModel,
  VAD_FRAME_SAMPLES,
  VAD_SAMPLE_RATE,
} from '@sovren/speech';
import { writeTestTtsModel } from '@sovren/speech/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const SENTENCES = [
  'Thanks for calling Bella Cucina, this is Ava speaking.',
  'Your table for 4 is booked on May 2nd at 7:30 pm.',
  'The total comes to $123.45, including tax.',
  'Dr. Smith can see you at 10:30 tomorrow morning.',
  'Please call us back at +1 415 555 0100 if anything changes.',
  'Is there anything else I can help you with today?',
  'Our opening hours are 9 am to 5 pm, Monday to Friday; we are closed on weekends.',
  'I have sent the confirmation to your email, and you should receive it within 5 minutes.',
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return `mean ${mean.toFixed(3)}  p50 ${at(0.5).toFixed(3)}  p99 ${at(0.99).toFixed(3)}  max ${sorted[sorted.length - 1].toFixed(3)}`;
}

function modelFolder(): { dir: string; label: string; cleanup?: () => void } {
  const given = arg('model');
  if (given) return { dir: given, label: given };
  const root = join(process.env['SOVREN_ROOT'] ?? '/data/sovren', 'models', 'tts');
  if (existsSync(root)) {
    const found = readdirSync(root).find((d) => existsSync(join(root, d, 'model.onnx')));
    if (found) return { dir: join(root, found), label: join(root, found) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'sovren-bench-tts-'));
  writeTestTtsModel(dir);
  return {
    dir,
    label: 'generated Kokoro-signature TEST model (not Kokoro: its time says nothing about real speech)',
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}`);
  const folder = modelFolder();
  const provider = arg('provider') ?? 'cpu';
  const loadStart = process.hrtime.bigint();
  const model = await TtsModel.load('bench', folder.dir, {
    providers: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpThreads: 0,
  });
  const voice = arg('voice') ?? model.voices[0];
  console.log(`model: ${folder.label}`);
  console.log(
    `  loaded in ${ms(loadStart).toFixed(0)} ms; provider ${provider}; voice ${voice}; ${model.config.sampleRate} Hz`,
  );
  const espeakVoice = model.config.espeakVoice;
  const normaliser = normaliserFor(espeakVoice);
  const vocabulary = model.config.vocabulary;
  const count = (s: string) => vocabulary.count(s);
  // Cache off: every sentence pays for its espeak-ng process, as a new sentence does.
  const phonemiser = new EspeakPhonemiser({ cacheSize: 0 });
  await phonemiser.phonemise(['warm up'], espeakVoice);
  await model.synthesize(vocabulary.encode('wˈɔːm ˈʌp').ids, voice, 1);

  console.log('\nper sentence (ms)      front  phon1st  phonAll  model1st  =first audio | model all  audio s    RTF');
  const firstAudio: number[] = [];
  for (const sentence of SENTENCES) {
    const reps = 200;
    let t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) splitClauses(normaliser ? normaliser.normalise(sentence) : sentence);
    const frontMs = ms(t) / reps;
    const clauses = splitClauses(normaliser ? normaliser.normalise(sentence) : sentence);
    t = process.hrtime.bigint();
    const first = await phonemiser.phonemise([clauses[0].text], espeakVoice);
    const phonFirstMs = ms(t);
    t = process.hrtime.bigint();
    const all = await phonemiser.phonemise(
      clauses.map((c) => c.text),
      espeakVoice,
    );
    const phonAllMs = ms(t);
    const chunks = [
      ...planChunks([{ ...clauses[0], phonemes: first[0] }], { maxTokens: model.maxContentTokens, countTokens: count }),
      ...planChunks(
        clauses.slice(1).map((c, i) => ({ ...c, phonemes: all[i + 1] })),
        { maxTokens: model.maxContentTokens, countTokens: count, firstClauseAlone: false },
      ),
    ];
    let modelAll = 0;
    let model1st = 0;
    let samples = 0;
    for (const [index, chunk] of chunks.entries()) {
      t = process.hrtime.bigint();
      const audio = await model.synthesize(vocabulary.encode(chunk).ids, voice, 1);
      const took = ms(t);
      if (index === 0) model1st = took;
      modelAll += took;
      samples += audio.length;
    }
    const audioSeconds = samples / model.config.sampleRate;
    const ttfa = frontMs + phonFirstMs + model1st;
    firstAudio.push(ttfa);
    console.log(
      `${sentence.slice(0, 22).padEnd(22)} ${frontMs.toFixed(3).padStart(6)} ${phonFirstMs.toFixed(1).padStart(8)} ` +
        `${phonAllMs.toFixed(1).padStart(8)} ${model1st.toFixed(1).padStart(9)} ${ttfa.toFixed(1).padStart(12)} | ` +
        `${modelAll.toFixed(1).padStart(9)} ${audioSeconds.toFixed(2).padStart(8)} ${(modelAll / 1000 / audioSeconds).toFixed(3).padStart(6)}`,
    );
  }
  console.log(`time to first audio (ms): ${stats(firstAudio)}  (goal < 100 with Kokoro-82M on the GPU server)`);
  await model.close();
  folder.cleanup?.();

  const frames = Number(arg('frames') ?? 2000);
  const wav = readWav(
    execFileSync('espeak-ng', ['-v', 'en-us', '--stdout', SENTENCES.join(' ')], { maxBuffer: 64 << 20 }),
  );
  const speech = await resample(wav.samples, wav.sampleRate, VAD_SAMPLE_RATE);
  const vad = await SileroVad.load();
  const stream = vad.stream();
  const perFrame: number[] = [];
  for (let i = 0; i < frames; i++) {
    const offset = (i * VAD_FRAME_SAMPLES) % (speech.length - VAD_FRAME_SAMPLES);
    const t = process.hrtime.bigint();
    await stream.frame(speech.subarray(offset, offset + VAD_FRAME_SAMPLES));
    perFrame.push(ms(t));
  }
  await vad.close();
  console.log(
    `\nSilero VAD per 32 ms frame (ms, ${frames} frames of espeak-ng speech, 1 thread): ${stats(perFrame)}  (goal < 1)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
