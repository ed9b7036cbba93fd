// Writes tiny BERT-family GGUF encoders (bert, nomic-bert) with seeded random weights, with llama.cpp's tensor names
// and metadata keys and a WordPiece vocabulary, plus the dequantised weights for the float64 reference.
import { GgufWriter } from '../gguf/gguf-writer';
import { TensorType, tensorTypeTraits } from '../quant/tensor-type';
import type { BertArchitecture, BertReferenceLayer, BertReferenceWeights, ReferencePooling } from './bert-reference';
import { buildWordPieceVocab, type TestVocab } from './test-vocab';
import { activationBlockFor, addTokenizerKeys, randomTensorWriter, seededRandom } from './tiny-model';
import type { RefLayerNorm, RefLinear } from './whisper-reference';

/** GGUF `<arch>.pooling_type` values (llama.cpp's numbering). */
export const GGUF_POOLING_TYPE: Record<ReferencePooling, number> = { mean: 1, cls: 2, last: 3 };

export interface TinyBertOptions {
  architecture?: BertArchitecture;
  /** Type of every matrix; norms and biases stay F32. Default F32. */
  type?: TensorType;
  dim?: number;
  hiddenDim?: number;
  nLayers?: number;
  nHeads?: number;
  contextLength?: number;
  vocabSize?: number;
  normEps?: number;
  /** The pooling the file states (pooling_type); default mean. */
  pooling?: ReferencePooling;
  seed?: number;
  /**
   * State [CLS] / [SEP] as llama.cpp's converter does (tokenizer.ggml.cls_token_id and seperator_token_id, no
   * bos/eos ids, no add_bos/add_eos) instead of as bos/eos with add_bos/add_eos.
   */
  converterSpecialKeys?: boolean;
  /** For negative tests: tensors to leave out of the file. */
  omitTensors?: readonly string[];
  /** For negative tests: metadata that disagrees with the tensors, or extra keys. */
  declared?: { embeddingLength?: number; headCount?: number; poolingType?: number; causal?: boolean };
}

export interface TinyBert {
  path: string;
  type: TensorType;
  vocab: TestVocab;
  weights: BertReferenceWeights;
}

/**
 * Builds a tiny encoder in memory. Defaults: bert, dim 128, ff 256, 2 layers, 4 heads, context 64, 300 tokens
 * (Q8_0/Q4_0 need rows of multiples of 32, K-quants of 256).
 */
export function buildTinyBert(options: TinyBertOptions = {}): {
  writer: GgufWriter;
  type: TensorType;
  vocab: TestVocab;
  weights: BertReferenceWeights;
} {
  const architecture = options.architecture ?? 'bert';
  const type = options.type ?? TensorType.F32;
  const dim = options.dim ?? 128;
  const hiddenDim = options.hiddenDim ?? 256;
  const nLayers = options.nLayers ?? 2;
  const nHeads = options.nHeads ?? 4;
  const contextLength = options.contextLength ?? 64;
  const normEps = Math.fround(options.normEps ?? 1e-12);
  const ropeFreqBase = 1000; // nomic-embed-text's
  const vocab = buildWordPieceVocab({ vocabSize: options.vocabSize ?? 300 });
  const nVocab = vocab.tokens.length;
  const random = seededRandom(options.seed ?? 4321);
  const nomic = architecture === 'nomic-bert';

  const writer = new GgufWriter();
  const a = architecture;
  writer.addString('general.architecture', a);
  writer.addString('general.name', `tiny-${a}-${tensorTypeTraits(type).name}`);
  writer.addUint32('general.file_type', type);
  writer.addUint32(`${a}.context_length`, contextLength);
  writer.addUint32(`${a}.embedding_length`, options.declared?.embeddingLength ?? dim);
  writer.addUint32(`${a}.block_count`, nLayers);
  writer.addUint32(`${a}.feed_forward_length`, hiddenDim);
  writer.addUint32(`${a}.attention.head_count`, options.declared?.headCount ?? nHeads);
  writer.addFloat32(`${a}.attention.layer_norm_epsilon`, normEps);
  writer.addBool(`${a}.attention.causal`, options.declared?.causal ?? false);
  writer.addUint32(`${a}.pooling_type`, options.declared?.poolingType ?? GGUF_POOLING_TYPE[options.pooling ?? 'mean']);
  if (nomic) writer.addFloat32(`${a}.rope.freq_base`, ropeFreqBase);
  writer.addUint32('tokenizer.ggml.token_type_count', 2);
  if (options.converterSpecialKeys) {
    const bosEos = ['bos_token_id', 'eos_token_id', 'add_bos_token', 'add_eos_token'];
    addTokenizerKeys(
      writer,
      vocab,
      bosEos.map((k) => `tokenizer.ggml.${k}`),
    );
    writer.addUint32('tokenizer.ggml.cls_token_id', vocab.bosId);
    writer.addUint32('tokenizer.ggml.seperator_token_id', vocab.eosId); // sic: llama.cpp's spelling
  } else {
    addTokenizerKeys(writer, vocab);
  }

  const omitted = new Set(options.omitTensors ?? []);
  const tensors = randomTensorWriter(writer, random, omitted);
  const matrix = (name: string, rows: number, cols: number, std: number, matrixType = type): Float64Array =>
    tensors.matrix(name, matrixType, rows, cols, std);
  const vector = tensors.vector;
  const dense = (name: string, out: number, inputs: number, biased: boolean): RefLinear => {
    const l: RefLinear = { w: matrix(`${name}.weight`, out, inputs, 1 / Math.sqrt(inputs)), out, in: inputs };
    if (biased) l.b = vector(`${name}.bias`, out, 0, 0.2);
    return l;
  };
  const norm = (name: string): RefLayerNorm => ({
    w: vector(`${name}.weight`, dim, 1, 0.1),
    b: vector(`${name}.bias`, dim, 0, 0.1),
  });

  const weights: BertReferenceWeights = {
    config: {
      architecture,
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      vocabSize: nVocab,
      normEps,
      ropeFreqBase,
      activationBlock: activationBlockFor(type),
    },
    tokenEmbedding: matrix('token_embd.weight', nVocab, dim, 1),
    embeddingNorm: { w: new Float64Array(0), b: new Float64Array(0) },
    layers: [],
  };
  if (!nomic) weights.positionEmbedding = matrix('position_embd.weight', contextLength, dim, 0.5);
  // Only row 0 is ever used (one segment); the table is F32 as converters write it.
  weights.tokenTypeEmbedding = matrix('token_types.weight', 2, dim, 0.5, TensorType.F32).subarray(0, dim);
  weights.embeddingNorm = norm('token_embd_norm');

  const biased = !nomic;
  for (let l = 0; l < nLayers; l++) {
    const b = `blk.${l}.`;
    const layer: Partial<BertReferenceLayer> = {};
    if (nomic) {
      layer.qkv = dense(`${b}attn_qkv`, 3 * dim, dim, false);
    } else {
      layer.q = dense(`${b}attn_q`, dim, dim, true);
      layer.k = dense(`${b}attn_k`, dim, dim, true);
      layer.v = dense(`${b}attn_v`, dim, dim, true);
    }
    layer.out = dense(`${b}attn_output`, dim, dim, biased);
    layer.attnOutNorm = norm(`${b}attn_output_norm`);
    layer.up = dense(`${b}ffn_up`, hiddenDim, dim, biased);
    if (nomic) layer.gate = dense(`${b}ffn_gate`, hiddenDim, dim, false);
    layer.down = dense(`${b}ffn_down`, dim, hiddenDim, biased);
    layer.outNorm = norm(`${b}layer_output_norm`);
    weights.layers.push(layer as BertReferenceLayer);
  }
  return { writer, type, vocab, weights };
}

/** Builds a tiny encoder and writes it to `path`. */
export async function writeTinyBert(path: string, options: TinyBertOptions = {}): Promise<TinyBert> {
  const { writer, type, vocab, weights } = buildTinyBert(options);
  await writer.writeFile(path);
  return { path, type, vocab, weights };
}
