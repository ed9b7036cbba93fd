// The agent's conversation state that needs no audio: what the caller heard of an utterance cut by a barge-in,
// and the history sent to the LLM kept within a token budget.
import type { InferenceChatMessageV1 } from '@sovren/messaging';

/** One synthesised piece of an agent utterance and how much audio of it went to the play queue. */
export interface SpokenPiece {
  text: string;
  audioMs: number;
}

/**
 * The words the caller heard when `playedMs` of the utterance's audio had gone out: every whole piece played, then
 * the share of the interrupted piece's words that matches the share of its audio played (speech runs at a fairly
 * even pace, so this is within a word or two).
 */
export function heardText(pieces: readonly SpokenPiece[], playedMs: number): string {
  const heard: string[] = [];
  let left = playedMs;
  for (const piece of pieces) {
    if (left <= 0) break;
    if (left >= piece.audioMs) {
      heard.push(piece.text);
      left -= piece.audioMs;
      continue;
    }
    const words = piece.text.split(/\s+/).filter((w) => w.length > 0);
    const count = Math.floor((words.length * left) / Math.max(1, piece.audioMs));
    if (count > 0) heard.push(words.slice(0, count).join(' '));
    break;
  }
  return heard.join(' ');
}

/** A rough token count (about four characters a token in English, plus the template's per-message overhead). */
export function approximateTokens(message: InferenceChatMessageV1): number {
  return Math.ceil(message.content.length / 4) + 4;
}

/**
 * The system prompt (always), and the most recent messages that fit `budgetTokens` (the latest always); once
 * something is dropped the kept part never starts with an assistant message cut from its question.
 */
export function historyWithin(
  system: InferenceChatMessageV1 | null,
  messages: readonly InferenceChatMessageV1[],
  budgetTokens: number,
): InferenceChatMessageV1[] {
  let used = system ? approximateTokens(system) : 0;
  let first = messages.length;
  while (first > 0) {
    const cost = approximateTokens(messages[first - 1]);
    if (used + cost > budgetTokens && first < messages.length) break;
    used += cost;
    first--;
  }
  if (first > 0) while (first < messages.length - 1 && messages[first].role === 'assistant') first++;
  return [...(system ? [system] : []), ...messages.slice(first)];
}
