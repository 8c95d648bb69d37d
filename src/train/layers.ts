/**
 * The GPT-2 layers as pairs of functions: a forward pass that keeps what its backward pass needs, and
 * a backward pass that *adds* into the gradients it is given (so a tensor used twice, such as a tied
 * embedding, accumulates both uses). Plain loops over row-major arrays, one layer per function, so each
 * can be checked against finite differences on its own. Arrays are f32 for training and f64 for the
 * gradient checks.
 *
 * Shapes: N = batch × time rows; C channels; weights are [out, in] (the heap's layout).
 */
export type Arr = Float32Array | Float64Array;

/** out[n] = wte[tokens[n]] + wpe[n mod T]. */
export function encoderForward(out: Arr, tokens: ArrayLike<number>, wte: Arr, wpe: Arr, N: number, T: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C, e = tokens[n]! * C, p = (n % T) * C;
    for (let i = 0; i < C; i++) out[o + i] = wte[e + i]! + wpe[p + i]!;
  }
}

export function encoderBackward(dwte: Arr, dwpe: Arr, dout: Arr, tokens: ArrayLike<number>, N: number, T: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * C, e = tokens[n]! * C, p = (n % T) * C;
    for (let i = 0; i < C; i++) { dwte[e + i]! += dout[o + i]!; dwpe[p + i]! += dout[o + i]!; }
  }
}

/** LayerNorm over each row; keeps each row's mean and 1/σ for the backward pass. */
export function layerNormForward(out: Arr, mean: Arr, rstd: Arr, inp: Arr, w: Arr, b: Arr, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i]!;
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) v += (inp[x + i]! - m) ** 2;
    const s = 1 / Math.sqrt(v / C + eps);
    for (let i = 0; i < C; i++) out[x + i] = (inp[x + i]! - m) * s * w[i]! + b[i]!;
    mean[n] = m;
    rstd[n] = s;
  }
}

/**
 * With x̂ = (x − μ)·s and g = dout·w: dx = s·(g − mean(g) − x̂·mean(g·x̂)); dw += dout·x̂; db += dout.
 */
export function layerNormBackward(dinp: Arr, dw: Arr, db: Arr, dout: Arr, inp: Arr, w: Arr, mean: Arr, rstd: Arr, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, m = mean[n]!, s = rstd[n]!;
    let gMean = 0, gxMean = 0;
    for (let i = 0; i < C; i++) {
      const xh = (inp[x + i]! - m) * s, g = dout[x + i]! * w[i]!;
      gMean += g;
      gxMean += g * xh;
    }
    gMean /= C;
    gxMean /= C;
    for (let i = 0; i < C; i++) {
      const xh = (inp[x + i]! - m) * s, g = dout[x + i]! * w[i]!;
      db[i]! += dout[x + i]!;
      dw[i]! += dout[x + i]! * xh;
      dinp[x + i]! += s * (g - gMean - xh * gxMean);
    }
  }
}

/** out[n, o] = bias[o] + Σ_i inp[n, i]·w[o, i] (bias may be absent). */
export function matmulForward(out: Arr, inp: Arr, w: Arr, bias: Arr | undefined, N: number, C: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, y = n * OC;
    for (let o = 0; o < OC; o++) {
      const r = o * C;
      let s = bias ? bias[o]! : 0;
      for (let i = 0; i < C; i++) s += inp[x + i]! * w[r + i]!;
      out[y + o] = s;
    }
  }
}

/** dinp += dout·w; dw += doutᵀ·inp; dbias += Σ_n dout (each skipped when its array is absent). */
export function matmulBackward(dinp: Arr | undefined, dw: Arr | undefined, dbias: Arr | undefined, dout: Arr, inp: Arr, w: Arr, N: number, C: number, OC: number): void {
  for (let n = 0; n < N; n++) {
    const x = n * C, y = n * OC;
    for (let o = 0; o < OC; o++) {
      const d = dout[y + o]!;
      if (d === 0) continue;
      const r = o * C;
      if (dinp) for (let i = 0; i < C; i++) dinp[x + i]! += d * w[r + i]!;
      if (dw) for (let i = 0; i < C; i++) dw[r + i]! += d * inp[x + i]!;
      if (dbias) dbias[o]! += d;
    }
  }
}

/**
 * Causal multi-head attention from a fused [q | k | v] row per position (3C wide) to C outputs.
 * `att` keeps the softmaxed pattern [B, NH, T, T] for the backward pass (and for the attention hooks).
 */
export function attentionForward(out: Arr, att: Arr, qkv: Arr, B: number, T: number, C: number, NH: number): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hs, a = ((b * NH + h) * T + t) * T;
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const k = (b * T + u) * C3 + C + h * hs;
          let s = 0;
          for (let i = 0; i < hs; i++) s += qkv[q + i]! * qkv[k + i]!;
          s *= scale;
          att[a + u] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) { const e = Math.exp(att[a + u]! - max); att[a + u] = e; sum += e; }
        for (let u = 0; u <= t; u++) att[a + u]! /= sum;
        for (let u = t + 1; u < T; u++) att[a + u] = 0;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let u = 0; u <= t; u++) {
          const v = (b * T + u) * C3 + 2 * C + h * hs, p = att[a + u]!;
          for (let i = 0; i < hs; i++) out[o + i]! += p * qkv[v + i]!;
        }
      }
    }
  }
}

/** Backward through value mixing, the causal softmax (dS = P ⊙ (dP − Σ P·dP)) and the scaled q·k. */
export function attentionBackward(dqkv: Arr, dout: Arr, qkv: Arr, att: Arr, B: number, T: number, C: number, NH: number): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  const dAtt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const a = ((b * NH + h) * T + t) * T, o = (b * T + t) * C + h * hs, q = (b * T + t) * C3 + h * hs;
        // out = Σ_u P[u]·v[u]: dP[u] = dout·v[u], dv[u] += P[u]·dout.
        let dot = 0;
        for (let u = 0; u <= t; u++) {
          const v = (b * T + u) * C3 + 2 * C + h * hs, p = att[a + u]!;
          let s = 0;
          for (let i = 0; i < hs; i++) { s += dout[o + i]! * qkv[v + i]!; dqkv[v + i]! += p * dout[o + i]!; }
          dAtt[u] = s;
          dot += p * s;
        }
        for (let u = 0; u <= t; u++) {
          const dS = att[a + u]! * (dAtt[u]! - dot) * scale, k = (b * T + u) * C3 + C + h * hs;
          if (dS === 0) continue;
          for (let i = 0; i < hs; i++) { dqkv[q + i]! += dS * qkv[k + i]!; dqkv[k + i]! += dS * qkv[q + i]!; }
        }
      }
    }
  }
}

const GELU_K = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (GPT-2's). */
export function geluForward(out: Arr, inp: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!;
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x * x * x)));
  }
}

export function geluBackward(dinp: Arr, inp: Arr, dout: Arr, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i]!, u = GELU_K * (x + 0.044715 * x * x * x), th = Math.tanh(u);
    const du = GELU_K * (1 + 3 * 0.044715 * x * x);
    dinp[i]! += dout[i]! * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du);
  }
}

/** out = a + b. */
export function residualForward(out: Arr, a: Arr, b: Arr, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

export function residualBackward(da: Arr, db: Arr, dout: Arr, n: number): void {
  for (let i = 0; i < n; i++) { da[i]! += dout[i]!; db[i]! += dout[i]!; }
}

/**
 * Softmax of each row of logits (V wide) into probs, and the cross-entropy −log p[target] per row.
 * Rows whose target is −1 are not scored (loss 0, no gradient).
 */
export function crossEntropyForward(losses: Arr, probs: Arr, logits: Arr, targets: ArrayLike<number>, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const r = n * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[r + i]! > max) max = logits[r + i]!;
    let sum = 0;
    for (let i = 0; i < V; i++) { const e = Math.exp(logits[r + i]! - max); probs[r + i] = e; sum += e; }
    for (let i = 0; i < V; i++) probs[r + i]! /= sum;
    const t = targets[n]!;
    losses[n] = t < 0 ? 0 : -Math.log(probs[r + t]!);
  }
}

/** dlogits += dloss[n]·(p − onehot(target)): the softmax and the log folded together. */
export function crossEntropyBackward(dlogits: Arr, dlosses: Arr, probs: Arr, targets: ArrayLike<number>, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const t = targets[n]!;
    if (t < 0) continue;
    const r = n * V, d = dlosses[n]!;
    for (let i = 0; i < V; i++) dlogits[r + i]! += d * (probs[r + i]! - (i === t ? 1 : 0));
  }
}
