/**
 * A minimal ONNX model writer: enough of the protobuf schema (onnx.proto3, IR version 8) to
 * describe small single-purpose graphs with dynamic-shape inputs, so the `ort` tier can hand
 * them to ONNX Runtime without shipping model files or a protobuf library.
 *
 * Field numbers used (onnx.proto): ModelProto{ir_version=1, producer_name=2, graph=7,
 * opset_import=8}, OperatorSetIdProto{domain=1, version=2}, GraphProto{node=1, name=2,
 * initializer=5, input=11, output=12}, NodeProto{input=1, output=2, name=3, op_type=4,
 * attribute=5, domain=7}, AttributeProto{name=1, f=2, i=3, floats=7, ints=8, type=20},
 * ValueInfoProto{name=1, type=2}, TypeProto{tensor_type=1}, TypeProto.Tensor{elem_type=1,
 * shape=2}, TensorShapeProto{dim=1}, Dimension{dim_value=1, dim_param=2},
 * TensorProto{dims=1, data_type=2, name=8, raw_data=9}.
 */

export type OnnxDType = 'float32' | 'int32' | 'int64';
const ELEM: Record<OnnxDType, number> = { float32: 1, int32: 6, int64: 7 };

export type AttrValue = number | number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  /** Integers (and integer lists) are written as INT/INTS; `{float: x}` as FLOAT. */
  attrs?: Record<string, AttrValue>;
}

export interface OnnxValue {
  name: string;
  dtype: OnnxDType;
  /** Dimensions (numbers, or names for symbolic ones); omitted means unknown rank. */
  shape?: (number | string)[];
}

export interface OnnxConstant {
  name: string;
  dtype: 'float32' | 'int64';
  dims: number[];
  values: number[];
}

export interface OnnxGraphSpec {
  name: string;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  nodes: OnnxNode[];
  constants?: OnnxConstant[];
  /** opset of the default domain (default 17); com.microsoft is imported at version 1. */
  opset?: number;
}

class Writer {
  private chunks: Uint8Array[] = [];
  private len = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.len += b.length;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.push(Uint8Array.from(out));
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: Writer) => void): void {
    const w = new Writer();
    build(w);
    this.bytes(field, w.finish());
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function valueInfo(w: Writer, field: number, v: OnnxValue): void {
  w.message(field, (vi) => {
    vi.string(1, v.name);
    vi.message(2, (tp) =>
      tp.message(1, (tt) => {
        tt.int(1, ELEM[v.dtype]);
        if (v.shape) {
          tt.message(2, (sh) => {
            for (const d of v.shape!) sh.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
          });
        }
      }),
    );
  });
}

function attribute(w: Writer, name: string, value: AttrValue): void {
  w.message(5, (a) => {
    a.string(1, name);
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) throw new Error(`onnx attribute ${name}: ${value} is not an integer (use {float: x})`);
      a.int(3, value);
      a.int(20, 2);
    } else if (Array.isArray(value)) {
      for (const v of value) a.int(8, v);
      a.int(20, 7);
    } else {
      a.float(2, value.float);
      a.int(20, 1);
    }
  });
}

/** Serialises a graph into ONNX model bytes. */
export function encodeOnnxModel(spec: OnnxGraphSpec): Uint8Array {
  const w = new Writer();
  w.int(1, 8);
  w.string(2, 'openclip-ts');
  w.message(7, (g) => {
    spec.nodes.forEach((n, i) => {
      g.message(1, (nw) => {
        for (const x of n.inputs) nw.string(1, x);
        for (const y of n.outputs) nw.string(2, y);
        nw.string(3, `${n.op}_${i}`);
        nw.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) attribute(nw, k, v);
        if (n.domain) nw.string(7, n.domain);
      });
    });
    g.string(2, spec.name);
    for (const c of spec.constants ?? []) {
      g.message(5, (t) => {
        for (const d of c.dims) t.int(1, d);
        t.int(2, c.dtype === 'float32' ? 1 : 7);
        t.string(8, c.name);
        const raw = c.dtype === 'float32' ? new Uint8Array(Float32Array.from(c.values).buffer) : new Uint8Array(BigInt64Array.from(c.values.map((v) => BigInt(v))).buffer);
        t.bytes(9, raw);
      });
    }
    for (const v of spec.inputs) valueInfo(g, 11, v);
    for (const v of spec.outputs) valueInfo(g, 12, v);
  });
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, spec.opset ?? 17);
  });
  w.message(8, (o) => {
    o.string(1, 'com.microsoft');
    o.int(2, 1);
  });
  return w.finish();
}
