// The agreed media of a call: which G.711 law, its RTP payload type, and the RFC 4733 telephone-event type.
export type G711Codec = 'PCMU' | 'PCMA';

export interface MediaFormat {
  codec: G711Codec;
  payloadType: number;
  telephoneEventPayloadType: number | null;
}

/** G.711 runs at 8 kHz; a 20 ms packet carries 160 samples (160 timestamp units). */
export const G711_SAMPLE_RATE = 8000;
export const FRAME_MS = 20;
export const SAMPLES_PER_FRAME_8K = (G711_SAMPLE_RATE * FRAME_MS) / 1000;
/** Caller audio handed to the rest of the service: 20 ms at 16 kHz. */
export const SERVICE_SAMPLE_RATE = 16000;
export const SAMPLES_PER_FRAME_16K = (SERVICE_SAMPLE_RATE * FRAME_MS) / 1000;
