// Jest runs tests in a separate V8 context whose typed-array constructors differ from Node's; onnxruntime-node's
// native binding returns Node's typed arrays and its Tensor class then fails `instanceof` checks ("A float32
// tensor's data must be type of function Float32Array()"). Tests that run ONNX models use this environment
// (docblock `@jest-environment`), which hands the test context Node's own typed-array constructors.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OnnxTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxTestEnvironment;
