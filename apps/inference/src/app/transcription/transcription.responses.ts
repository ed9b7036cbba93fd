// Bodies of POST /v1/audio/transcriptions in each response_format (OpenAI's shapes).
import { ApiProperty } from '@nestjs/swagger';

import type { TranscriptionResult } from './transcription.service';

export class TranscriptionJsonResponse {
  @ApiProperty({ example: 'Your table is booked for 8 pm.' })
  text!: string;
}

/** SRT / WebVTT time: hh:mm:ss,mmm (SRT) or hh:mm:ss.mmm (VTT). */
function clock(seconds: number, separator: ',' | '.'): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${separator}${pad(ms % 1000, 3)}`;
}

export function toSrt(result: TranscriptionResult): string {
  return result.segments
    .map((s, i) => `${i + 1}\n${clock(s.start, ',')} --> ${clock(s.end, ',')}\n${s.text.trim()}\n`)
    .join('\n');
}

export function toVtt(result: TranscriptionResult): string {
  const cues = result.segments.map((s) => `${clock(s.start, '.')} --> ${clock(s.end, '.')}\n${s.text.trim()}\n`);
  return ['WEBVTT\n', ...cues].join('\n');
}

export function toVerboseJson(result: TranscriptionResult): Record<string, unknown> {
  return {
    task: 'transcribe',
    language: result.language,
    duration: result.audioSeconds,
    text: result.text,
    segments: result.segments.map((s, id) => ({
      id,
      seek: 0,
      start: s.start,
      end: s.end,
      text: s.text,
      tokens: s.tokens,
      temperature: result.temperature,
      avg_logprob: result.avgLogprob,
      compression_ratio: result.compressionRatio,
      no_speech_prob: result.noSpeechProb,
    })),
  };
}
