import { kernelModule, wasmSimdAvailable } from '../kernels/wasm.js';
import { attentionBackward as attentionBackwardJs, attentionForward as attentionForwardJs, matmulBackward, matmulForward, type Arr } from './layers.js';

interface Exports {
  matmul(type: number, w: number, x: number, y: number, rows: number, cols: number, nt: number, r0: number, r1: number, scratch: number): void;
  addBias(y: number, b: number, n: number, nt: number): void;
  linearBackInput(dout: number, w: number, dx: number, N: number, C: number, OC: number): void;
  linearBackWeight(dout: number, x: number, dw: number, db: number, N: number, C: number, OC: number): void;
  attnHeadForward(q: number, k: number, v: number, att: number, y: number, T: number, hs: number, scale: number): void;
  attnHeadBackward(q: number, k: number, v: number, att: number, dy: number, dq: number, dk: number, dv: number, T: number, hs: number, scale: number, scratch: number): void;
}

/**
 * The heavy layers of training on the WebAssembly SIMD kernels: linear layers (the inference matmul
 * forward, two kernels backward) and causal attention (one head at a time). Operands are copied into
 * kernel memory per call — copies linear in the data for arithmetic that is not. float64 arrays
 * (gradient checks) and runtimes without SIMD use the plain loops of layers.ts.
 */
class TrainKernels {
  private readonly memory = new WebAssembly.Memory({ initial: 32, maximum: 65536, shared: true });
  private readonly k = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } }).exports as unknown as Exports;
  private static readonly BASE = 1 << 20; // above the kernels' static data

  /** Byte offsets for regions of the given float counts (16-byte aligned), growing memory to fit. */
  private layout(...counts: number[]): number[] {
    let at = TrainKernels.BASE;
    const offsets = counts.map((n) => { const o = at; at += Math.ceil((n * 4) / 16) * 16; return o; });
    const have = this.memory.buffer.byteLength;
    if (at > have) this.memory.grow(Math.ceil((at - have) / 65536));
    return offsets;
  }

  private view(offset: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, offset, n);
  }

  forward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | undefined, N: number, C: number, OC: number): void {
    const [pIn, pW, pOut, pB, pScratch] = this.layout(N * C, OC * C, N * OC, OC, C);
    this.view(pIn!, N * C).set(inp.subarray(0, N * C));
    this.view(pW!, OC * C).set(w);
    this.k.matmul(0, pW!, pIn!, pOut!, OC, C, N, 0, OC, pScratch!);
    if (bias) {
      this.view(pB!, OC).set(bias);
      this.k.addBias(pOut!, pB!, OC, N);
    }
    out.set(this.view(pOut!, N * OC));
  }

  backward(dinp: Float32Array | undefined, dw: Float32Array | undefined, dbias: Float32Array | undefined, dout: Float32Array, inp: Float32Array, w: Float32Array, N: number, C: number, OC: number): void {
    const [pDout, pIn, pW, pDin, pDw, pDb] = this.layout(N * OC, N * C, OC * C, N * C, OC * C, OC);
    this.view(pDout!, N * OC).set(dout.subarray(0, N * OC));
    if (dinp) {
      this.view(pW!, OC * C).set(w);
      this.view(pDin!, N * C).set(dinp.subarray(0, N * C));
      this.k.linearBackInput(pDout!, pW!, pDin!, N, C, OC);
      dinp.set(this.view(pDin!, N * C));
    }
    if (dw) {
      this.view(pIn!, N * C).set(inp.subarray(0, N * C));
      this.view(pDw!, OC * C).set(dw);
      if (dbias) this.view(pDb!, OC).set(dbias);
      this.k.linearBackWeight(pDout!, pIn!, pDw!, dbias ? pDb! : 0, N, C, OC);
      dw.set(this.view(pDw!, OC * C));
      if (dbias) dbias.set(this.view(pDb!, OC));
    } else if (dbias) {
      for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) dbias[o]! += dout[n * OC + o]!;
    }
  }

  /** Copies head h of sequence b (q, k, v: T × hs each) out of the fused qkv rows into kernel memory. */
  private loadHead(qkv: Float32Array, b: number, h: number, T: number, C: number, hs: number, pq: number, pk: number, pv: number): void {
    const q = this.view(pq, T * hs), k = this.view(pk, T * hs), v = this.view(pv, T * hs), C3 = 3 * C;
    for (let t = 0; t < T; t++) {
      const r = (b * T + t) * C3 + h * hs;
      q.set(qkv.subarray(r, r + hs), t * hs);
      k.set(qkv.subarray(r + C, r + C + hs), t * hs);
      v.set(qkv.subarray(r + 2 * C, r + 2 * C + hs), t * hs);
    }
  }

  attentionForward(out: Float32Array, att: Float32Array, qkv: Float32Array, B: number, T: number, C: number, NH: number): void {
    const hs = C / NH;
    const [pq, pk, pv, pa, py] = this.layout(T * hs, T * hs, T * hs, T * T, T * hs);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        this.loadHead(qkv, b, h, T, C, hs, pq!, pk!, pv!);
        this.k.attnHeadForward(pq!, pk!, pv!, pa!, py!, T, hs, 1 / Math.sqrt(hs));
        att.set(this.view(pa!, T * T), (b * NH + h) * T * T);
        const y = this.view(py!, T * hs);
        for (let t = 0; t < T; t++) out.set(y.subarray(t * hs, (t + 1) * hs), (b * T + t) * C + h * hs);
      }
    }
  }

  attentionBackward(dqkv: Float32Array, dout: Float32Array, qkv: Float32Array, att: Float32Array, B: number, T: number, C: number, NH: number): void {
    const hs = C / NH, C3 = 3 * C;
    const [pq, pk, pv, pa, pdy, pdq, pdk, pdv, ps] = this.layout(T * hs, T * hs, T * hs, T * T, T * hs, T * hs, T * hs, T * hs, T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        this.loadHead(qkv, b, h, T, C, hs, pq!, pk!, pv!);
        this.view(pa!, T * T).set(att.subarray((b * NH + h) * T * T, (b * NH + h + 1) * T * T));
        const dy = this.view(pdy!, T * hs);
        for (let t = 0; t < T; t++) dy.set(dout.subarray((b * T + t) * C + h * hs, (b * T + t) * C + (h + 1) * hs), t * hs);
        const dq = this.view(pdq!, T * hs), dk = this.view(pdk!, T * hs), dv = this.view(pdv!, T * hs);
        dq.fill(0); dk.fill(0); dv.fill(0);
        this.k.attnHeadBackward(pq!, pk!, pv!, pa!, pdy!, pdq!, pdk!, pdv!, T, hs, 1 / Math.sqrt(hs), ps!);
        for (let t = 0; t < T; t++) {
          const r = (b * T + t) * C3 + h * hs, o = t * hs;
          for (let i = 0; i < hs; i++) { dqkv[r + i]! += dq[o + i]!; dqkv[r + C + i]! += dk[o + i]!; dqkv[r + 2 * C + i]! += dv[o + i]!; }
        }
      }
    }
  }
}

let kernels: TrainKernels | null | undefined;
function simd(): TrainKernels | null {
  if (kernels === undefined) kernels = wasmSimdAvailable() ? new TrainKernels() : null;
  return kernels;
}

const allF32 = (...xs: (Arr | undefined)[]) => xs.every((x) => x === undefined || x instanceof Float32Array);

/** out = inp·wᵀ + bias, on the SIMD kernels for f32 operands. */
export function linearForward(out: Arr, inp: Arr, w: Arr, bias: Arr | undefined, N: number, C: number, OC: number): void {
  const k = simd();
  if (k && allF32(out, inp, w, bias)) k.forward(out as Float32Array, inp as Float32Array, w as Float32Array, bias as Float32Array | undefined, N, C, OC);
  else matmulForward(out, inp, w, bias, N, C, OC);
}

/** Accumulates the input, weight and bias gradients of linearForward (each skipped when absent). */
export function linearBackward(dinp: Arr | undefined, dw: Arr | undefined, dbias: Arr | undefined, dout: Arr, inp: Arr, w: Arr, N: number, C: number, OC: number): void {
  const k = simd();
  if (k && allF32(dinp, dw, dbias, dout, inp, w)) k.backward(dinp as Float32Array | undefined, dw as Float32Array | undefined, dbias as Float32Array | undefined, dout as Float32Array, inp as Float32Array, w as Float32Array, N, C, OC);
  else matmulBackward(dinp, dw, dbias, dout, inp, w, N, C, OC);
}

/** Causal multi-head attention forward (see layers.ts), on the SIMD kernels for f32 operands. */
export function attentionForward(out: Arr, att: Arr, qkv: Arr, B: number, T: number, C: number, NH: number): void {
  const k = simd();
  if (k && allF32(out, att, qkv)) k.attentionForward(out as Float32Array, att as Float32Array, qkv as Float32Array, B, T, C, NH);
  else attentionForwardJs(out, att, qkv, B, T, C, NH);
}

/** Its backward pass (see layers.ts). */
export function attentionBackward(dqkv: Arr, dout: Arr, qkv: Arr, att: Arr, B: number, T: number, C: number, NH: number): void {
  const k = simd();
  if (k && allF32(dqkv, dout, qkv, att)) k.attentionBackward(dqkv as Float32Array, dout as Float32Array, qkv as Float32Array, att as Float32Array, B, T, C, NH);
  else attentionBackwardJs(dqkv, dout, qkv, att, B, T, C, NH);
}
