// Keeps native/tests/data/gguf-writer-fixture.gguf equal to what the TypeScript writer and quantisers produce, so
// the C++ tests (test-gguf reads it; kernel tests may dequantise it) check the two languages agree byte for byte.
// Regenerate after an intended format change with SOVREN_UPDATE_FIXTURES=1.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { dequantizeRow } from '../quant/dequantize';
import { quantizeRow } from '../quant/quantize';
import { QK_K, TensorType } from '../quant/tensor-type';
import { GgufValueType, GgufWriter } from './gguf-writer';

const FIXTURE = join(__dirname, '../../../../native/tests/data/gguf-writer-fixture.gguf');

function ramp(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(seed + i * 0.731) * (1 + (i % 7)) * 0.125;
  return x;
}

/**
 * Each quantised tensor `q.<type>` (2 rows) comes with `q.<type>.expected`: its F32 dequantisation by the TypeScript
 * reference, which a C++ dequantiser must reproduce bit for bit.
 */
function buildFixture(): Buffer {
  const w = new GgufWriter({ alignment: 64 })
    .addString('general.architecture', 'fixture')
    .addUint8('v.u8', 250)
    .addInt8('v.i8', -7)
    .addUint16('v.u16', 65000)
    .addInt16('v.i16', -1234)
    .addUint32('v.u32', 3000000000)
    .addInt32('v.i32', -123456789)
    .addFloat32('v.f32', 0.25)
    .addBool('v.bool', true)
    .addUint64('v.u64', 2n ** 40n + 3n)
    .addInt64('v.i64', -(2n ** 40n))
    .addFloat64('v.f64', 1.0 / 3.0)
    .addArray('a.tokens', GgufValueType.STRING, ['<unk>', '<s>', '</s>', 'héllo'])
    .addArray('a.i32', GgufValueType.INT32, [1, -2, 3]);
  const rows = 2;
  const f32 = ramp(8, 1);
  w.addTensor('f32', [8], TensorType.F32, Buffer.from(f32.buffer));
  const types: Array<[string, TensorType, number]> = [
    ['f16', TensorType.F16, 16],
    ['bf16', TensorType.BF16, 16],
    ['q8_0', TensorType.Q8_0, 64],
    ['q4_0', TensorType.Q4_0, 64],
    ['q4_k', TensorType.Q4_K, QK_K],
    ['q6_k', TensorType.Q6_K, QK_K],
  ];
  types.forEach(([name, type, cols], index) => {
    const x = ramp(cols * rows, 10 + index);
    const bytes = quantizeRow(type, x); // rows are consecutive, so one long row quantises them all
    w.addTensor(`q.${name}`, [cols, rows], type, bytes);
    const expected = dequantizeRow(type, bytes, cols * rows);
    w.addTensor(`q.${name}.expected`, [cols, rows], TensorType.F32, Buffer.from(expected.buffer));
  });
  return w.toBuffer();
}

describe('GGUF writer fixture shared with the C++ tests', () => {
  it('matches the checked-in native/tests/data/gguf-writer-fixture.gguf byte for byte', () => {
    const built = buildFixture();
    if (process.env['SOVREN_UPDATE_FIXTURES'] === '1') writeFileSync(FIXTURE, built);
    expect(existsSync(FIXTURE)).toBe(true);
    expect(readFileSync(FIXTURE).equals(built)).toBe(true);
  });
});
