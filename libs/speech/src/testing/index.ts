// @sovren/speech/testing: ONNX models written by the test tree (no weights shipped) for the speech engine's tests
// and benchmarks.
export * from './onnx-model.writer';
export * from './test-tts-model';
