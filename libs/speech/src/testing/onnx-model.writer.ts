// Writes small ONNX models for tests and benchmarks from a subset of onnx.proto (protobufjs), so the speech
// engine is exercised on a real ONNX Runtime session without shipping model weights.
import { parse, type Type } from 'protobufjs';

/** The parts of onnx/onnx.proto (IR version 8) these models use; field numbers as upstream. */
const ONNX_PROTO = `
syntax = "proto3";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; INTS = 7; }
  string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5; repeated int64 ints = 8;
  AttributeType type = 20;
}
message NodeProto {
  repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
  repeated AttributeProto attribute = 5; string domain = 7;
}
message TensorProto {
  repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4 [packed = true];
  repeated int64 int64_data = 7 [packed = true]; string name = 8; bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
}
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message GraphProto {
  repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message ModelProto {
  int64 ir_version = 1; repeated OperatorSetIdProto opset_import = 8; string producer_name = 2; GraphProto graph = 7;
}
`;

export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: typeof ONNX_FLOAT | typeof ONNX_INT64;
  values: ArrayLike<number>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: typeof ONNX_FLOAT | typeof ONNX_INT64;
  /** A number for a fixed dimension, a string for a symbolic one. */
  shape: Array<number | string>;
}

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[]>;
}

export interface OnnxGraph {
  name: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers: OnnxTensor[];
  nodes: OnnxNode[];
  opset?: number;
}

let modelType: Type | undefined;

/** Serialises a graph to ONNX model bytes. */
export function encodeOnnxModel(graph: OnnxGraph): Uint8Array {
  modelType ??= parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  const valueInfo = (v: OnnxValueInfo) => ({
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  });
  const tensor = (t: OnnxTensor) => {
    const raw =
      t.dataType === ONNX_FLOAT
        ? Buffer.from(Float32Array.from(t.values).buffer)
        : Buffer.from(BigInt64Array.from(Array.from(t.values, (v) => BigInt(v))).buffer);
    return { name: t.name, dims: t.dims, data_type: t.dataType, raw_data: raw };
  };
  const message = {
    ir_version: 8,
    producer_name: 'sovren-tests',
    opset_import: [{ domain: '', version: graph.opset ?? 17 }],
    graph: {
      name: graph.name,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: graph.initializers.map(tensor),
      node: graph.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([name, value]) =>
          Array.isArray(value) ? { name, type: 7, ints: value } : { name, type: 2, i: value },
        ),
      })),
    },
  };
  const error = modelType.verify(message);
  if (error) throw new Error(`invalid ONNX model message: ${error}`);
  return modelType.encode(modelType.fromObject(message)).finish();
}
