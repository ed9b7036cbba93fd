import { InferenceEnv } from '../../inference-config/inference.env';
import { chooseExecution } from '../speech-synthesis.service';

function env(provider: string, threads = 0): InferenceEnv {
  return Object.assign(new InferenceEnv(), { SOVREN_TTS_EXECUTION_PROVIDER: provider, SOVREN_TTS_THREADS: threads });
}

describe('chooseExecution', () => {
  it('says in one line which provider speech runs on', () => {
    const lines: string[] = [];
    const cpu = chooseExecution(env('cpu', 3), (line) => lines.push(line));
    expect(cpu).toEqual({ providers: ['cpu'], intraOpThreads: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^speech: ONNX Runtime execution provider CPU \(SOVREN_TTS_EXECUTION_PROVIDER=cpu; CUDA provider (available|not installed)\)$/,
    );
  });

  it('asks for CUDA with a CPU fallback when forced, and takes CUDA under auto only when it is installed', () => {
    expect(chooseExecution(env('cuda'), () => undefined).providers).toEqual(['cuda', 'cpu']);
    const lines: string[] = [];
    const auto = chooseExecution(env('auto'), (line) => lines.push(line));
    // This build of onnxruntime-node has no CUDA provider library next to it (the download is skipped).
    expect(auto.providers).toEqual(lines[0].includes('CUDA provider available') ? ['cuda', 'cpu'] : ['cpu']);
  });
});
