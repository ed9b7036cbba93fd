// sovren models list | load | unload: the models in <root>/models/llms (GGUF LLMs) and <root>/models/whisper
// (Whisper) and their state in the inference service. Loading a big model takes a while: a progress line shows its state and the time so far.
import type { Command } from 'commander';
import {
  INFERENCE_MODELS,
  INFERENCE_MODELS_LOAD,
  INFERENCE_MODELS_UNLOAD,
  parseInferenceModelControlReplyV1,
  parseInferenceModelsReplyV1,
} from '@sovren/messaging';

import { globalsOf, withPlatform } from '../command-context';
import { stateColour } from '../output';

/** How long `models load` waits for a model to load (big models on slow disks take minutes). */
const LOAD_TIMEOUT_MS = 30 * 60_000;
const PROGRESS_EVERY_MS = 1_000;

export function registerModels(program: Command): void {
  const models = program.command('models').description('models: list, load, unload');

  models
    .command('list')
    .description('list the models (<root>/models/llms and <root>/models/whisper) and whether each is loaded')
    .action(async (_options: unknown, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const reply = await client.request(INFERENCE_MODELS, { v: 1 }, { parse: parseInferenceModelsReplyV1 });
        output.result(reply, () => {
          if (reply.models.length === 0) {
            output.line('no models: put GGUF files in <root>/models/llms (see README, "Adding a real model")');
            return;
          }
          output.table(
            ['MODEL', 'KIND', 'STATE', 'CONTEXT', 'ERROR'],
            reply.models.map((m) => [
              m.id,
              m.kind ?? 'llm',
              m.state,
              m.contextSize ? String(m.contextSize) : '',
              m.error ?? '',
            ]),
            (column, cell) => (column === 2 ? stateColour(output, cell.trim())(cell) : cell),
          );
        });
      });
    });

  models
    .command('load <model>')
    .description('load a model now (instead of on its first request); shows progress until it is loaded')
    .action(async (id: string, _options: unknown, command: Command) => {
      const json = Boolean(globalsOf(command).json);
      await withPlatform(command, async (client, output) => {
        const started = Date.now();
        const tty = process.stderr.isTTY && !json;
        // Progress on stderr (stdout keeps the result for scripts): the state inference reports, and the time.
        const progress = setInterval(() => {
          void client
            .request(INFERENCE_MODELS, { v: 1 }, { parse: parseInferenceModelsReplyV1 })
            .then((reply) => {
              const state = reply.models.find((m) => m.id === id)?.state ?? 'unknown';
              const seconds = Math.round((Date.now() - started) / 1000);
              const text = `loading ${id}: ${state}, ${seconds} s`;
              if (tty) process.stderr.write(`\r${text}`);
              else if (!json) process.stderr.write(`${text}\n`);
            })
            .catch((error: unknown) => process.stderr.write(`\n(progress unavailable: ${(error as Error).message})\n`));
        }, PROGRESS_EVERY_MS);
        try {
          const reply = await client.request(
            INFERENCE_MODELS_LOAD,
            { v: 1, id },
            { timeoutMs: LOAD_TIMEOUT_MS, parse: parseInferenceModelControlReplyV1 },
          );
          if (tty) process.stderr.write('\n');
          output.result(reply, () =>
            output.line(
              `${stateColour(output, reply.model.state)(reply.model.state)} ${id} in ` +
                `${((Date.now() - started) / 1000).toFixed(1)} s ` +
                (reply.model.kind === 'whisper' ? '(Whisper)' : `(context ${reply.model.contextSize ?? '?'} tokens)`),
            ),
          );
        } finally {
          clearInterval(progress);
        }
      });
    });

  models
    .command('unload <model>')
    .description('unload a model (its running requests end) and free its memory')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const reply = await client.request(
          INFERENCE_MODELS_UNLOAD,
          { v: 1, id },
          { parse: parseInferenceModelControlReplyV1 },
        );
        output.result(reply, () => output.line(reply.wasLoaded ? `unloaded ${id}` : `${id} was not loaded`));
      });
    });
}
