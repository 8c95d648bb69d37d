import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BannedStrings } from '../../src/sampling/banned-strings.js';
import { Candidates, entropyBits } from '../../src/sampling/candidates.js';
import { argmax, SamplingChain, stageOrder, type ChainSettings } from '../../src/sampling/chain.js';
import { Epsilon } from '../../src/sampling/epsilon.js';
import { Eta } from '../../src/sampling/eta.js';
import { FrequencyPresencePenalty } from '../../src/sampling/frequency-presence.js';
import { LogitBias } from '../../src/sampling/logit-bias.js';
import { stepLogprobs } from '../../src/sampling/logprobs.js';
import { tokenStats } from '../../src/sampling/token-stats.js';
import { MinNewTokens } from '../../src/sampling/min-new-tokens.js';
import { MinP } from '../../src/sampling/min-p.js';
import { NoRepeatNgram } from '../../src/sampling/no-repeat-ngram.js';
import { RepetitionPenalty } from '../../src/sampling/repetition-penalty.js';
import { Rng } from '../../src/sampling/rng.js';
import type { Sampler, SamplingContext } from '../../src/sampling/sampler.js';
import { Temperature } from '../../src/sampling/temperature.js';
import { TopK } from '../../src/sampling/top-k.js';
import { TopNSigma } from '../../src/sampling/top-n-sigma.js';
import { TopP } from '../../src/sampling/top-p.js';
import { TypicalP } from '../../src/sampling/typical-p.js';
import { DEFAULTS } from '../../src/generate/settings.js';
import { applyStage, close, EMPTY } from './stage.js';

// The distribution most tests use: p = 1/16, 1/4, 1/2, 1/16, 1/8 for ids 0..4.
const P = [0.0625, 0.25, 0.5, 0.0625, 0.125];
const LOGITS = Float32Array.from(P, Math.log);
const apply = (s: Sampler, logits: ArrayLike<number> = LOGITS, ctx: SamplingContext = EMPTY) => applyStage(s, logits, ctx);

describe('warpers, on a distribution computed by hand', () => {
  test('temperature 0.5 squares and renormalizes the probabilities; 1 changes nothing', () => {
    const r = apply(new Temperature(0.5));
    const z = P.reduce((s, p) => s + p * p, 0);
    P.forEach((p, id) => close(r.probs.get(id)!, (p * p) / z));
    assert.deepEqual(apply(new Temperature(1)).logits, apply({ name: 'none', kind: 'warper', apply() {} }).logits);
  });

  test('top-k keeps exactly k, a tie at the boundary going to the lower id; k = 0 is off; min_keep wins', () => {
    assert.deepEqual(apply(new TopK(4)).ids, [0, 1, 2, 4]); // 0 and 3 tie at 1/16
    assert.deepEqual(apply(new TopK(1)).ids, [2]);
    assert.deepEqual(apply(new TopK(0)).ids, [0, 1, 2, 3, 4]);
    assert.deepEqual(apply(new TopK(1, 3)).ids, [1, 2, 4]);
  });

  test('top-p keeps the smallest set reaching p; p = 1 is off; at least min_keep', () => {
    assert.deepEqual(apply(new TopP(0.5)).ids, [2]);
    assert.deepEqual(apply(new TopP(0.6)).ids, [1, 2]);
    assert.deepEqual(apply(new TopP(0.7)).ids, [1, 2]);
    assert.deepEqual(apply(new TopP(0.8)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new TopP(0.9)).ids, [0, 1, 2, 4]); // the 1/16 tie again goes to id 0
    assert.deepEqual(apply(new TopP(1)).ids, [0, 1, 2, 3, 4]);
    assert.deepEqual(apply(new TopP(0.01, 2)).ids, [1, 2]);
    const r = apply(new TopP(0.8));
    close(r.probs.get(2)!, 0.5 / 0.875);
  });

  test('top-p works past its first 64 candidates on a flat 1000-token distribution', () => {
    const flat = new Float32Array(1000); // all equal: the first 900 by id reach 0.9
    assert.equal(apply(new TopP(0.9)).ids.length, 4);
    const r = apply(new TopP(0.9), flat);
    assert.equal(r.ids.length, 900);
    assert.deepEqual(r.ids.slice(0, 3), [0, 1, 2]);
    assert.equal(r.ids[899], 899);
  });

  test('min-p keeps p ≥ min_p × p_max', () => {
    assert.deepEqual(apply(new MinP(0.24)).ids, [1, 2, 4]); // cut 0.12 keeps 1/8
    assert.deepEqual(apply(new MinP(0.26)).ids, [1, 2]); // cut 0.13 drops it
    assert.deepEqual(apply(new MinP(1)).ids, [2]);
    assert.deepEqual(apply(new MinP(0.9, 2)).ids, [1, 2]);
  });

  test('typical-p ranks by |surprisal − entropy| and keeps until the mass is reached', () => {
    // H = 1.875 bits; |−ln p − H|: id1 0.087, id2 0.607, id4 0.780, ids 0/3 1.473 (nats)
    assert.deepEqual(apply(new TypicalP(0.7)).ids, [1, 2]);
    assert.deepEqual(apply(new TypicalP(0.2)).ids, [1]); // the most likely token is not "typical"
    assert.deepEqual(apply(new TypicalP(0.8)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new TypicalP(0.2, 3)).ids, [1, 2, 4]); // min_keep adds the next most typical
  });

  test('epsilon drops p < ε', () => {
    assert.deepEqual(apply(new Epsilon(0.1)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new Epsilon(0.3)).ids, [2]);
    assert.deepEqual(apply(new Epsilon(0.9, 2)).ids, [1, 2]);
  });

  test('eta uses η = min(ε, √ε·e^−H)', () => {
    // H = 1.2997 nats. ε = 0.1: η = 0.0862 → keeps 1/8 and up. ε = 0.5: η = 0.1928 → keeps 1/4 and up.
    assert.deepEqual(apply(new Eta(0.1)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new Eta(0.5)).ids, [1, 2]);
  });

  test('top-nσ keeps logits within n standard deviations of the max, ignoring −∞', () => {
    // σ of ln p = 0.8085: n = 1 cuts at −1.502, n = 2 at −2.310
    assert.deepEqual(apply(new TopNSigma(1)).ids, [1, 2]);
    assert.deepEqual(apply(new TopNSigma(2)).ids, [1, 2, 4]);
    assert.deepEqual(apply(new TopNSigma(1), [...LOGITS, -Infinity]).ids, [1, 2]);
  });
});

describe('logit processors', () => {
  test('repetition penalty divides positive logits and multiplies negative ones, over the window', () => {
    const logits = [1, 2, -1, 3];
    const ctx = { tokens: [0, 2, 0], promptLength: 1, text: '' };
    assert.deepEqual([...apply(new RepetitionPenalty(2), logits, ctx).logits].sort(), [[0, 0.5], [1, 2], [2, -2], [3, 3]]);
    assert.deepEqual([...apply(new RepetitionPenalty(2, 1), logits, ctx).logits].sort(), [[0, 0.5], [1, 2], [2, -1], [3, 3]]);
  });

  test('frequency and presence penalties count generated tokens only, within the window', () => {
    const ctx = { tokens: [3, 1, 1, 2], promptLength: 1, text: '' };
    const r = apply(new FrequencyPresencePenalty(0.5, 0.25), [0, 0, 0, 0], ctx).logits;
    assert.deepEqual([r.get(0), r.get(1), r.get(2), r.get(3)], [0, -1.25, -0.75, 0]);
    const w = apply(new FrequencyPresencePenalty(0.5, 0.25, 1), [0, 0, 0, 0], ctx).logits;
    assert.deepEqual([w.get(1), w.get(2)], [0, -0.75]);
  });

  test('no-repeat-ngram bans the token that would repeat an n-gram', () => {
    assert.deepEqual(apply(new NoRepeatNgram(2), [0, 0, 0, 0, 0, 0, 0], { tokens: [5, 6, 5], promptLength: 0, text: '' }).ids, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(apply(new NoRepeatNgram(3), [0, 0, 0, 0], { tokens: [1, 2, 3, 1, 2], promptLength: 2, text: '' }).ids, [0, 1, 2]);
    assert.equal(apply(new NoRepeatNgram(3), [0, 0, 0, 0], { tokens: [1], promptLength: 0, text: '' }).ids.length, 4);
  });

  test('logit bias adds to chosen ids; −∞ bans', () => {
    const r = apply(new LogitBias(new Map([[0, 5], [2, -Infinity]])));
    assert.deepEqual(r.ids, [0, 1, 3, 4]);
    close(r.logits.get(0)!, Math.log(0.0625) + 5, 1e-6);
  });

  test('banned strings: tokens containing one, and tokens that would complete one', () => {
    const texts = ['a', 'b', 'ab', 'c', 'xabcx', 'cd'];
    const ban = new BannedStrings(['abc'], texts);
    assert.deepEqual(apply(ban, [0, 0, 0, 0, 0, 0], { tokens: [], promptLength: 0, text: 'the ' }).ids, [0, 1, 2, 3, 5]);
    assert.deepEqual(apply(ban, [0, 0, 0, 0, 0, 0], { tokens: [], promptLength: 0, text: 'the ab' }).ids, [0, 1, 2]);
    assert.deepEqual(apply(ban, [0, 0, 0, 0, 0, 0], { tokens: [], promptLength: 0, text: 'the a' }).ids, [0, 1, 2, 3, 5]); // "b" is fine; "bc…" would not be
  });

  test('after a ban, later processors still find their tokens (by id, without a scan)', () => {
    const c = new Candidates([1, 2, -1, 3, 0.5]);
    const ctx = { tokens: [0, 2, 4, 4], promptLength: 1, text: '' };
    new LogitBias(new Map([[1, -Infinity]])).apply(c);
    assert.equal(c.identity, false);
    new RepetitionPenalty(2).apply(c, ctx);
    new FrequencyPresencePenalty(0.5, 0).apply(c, ctx);
    assert.deepEqual(Array.from(c.ids.subarray(0, c.size)), [0, 2, 3, 4]);
    assert.deepEqual(Array.from(c.logits.subarray(0, c.size)), [0.5, -2.5, 3, -0.75]);
  });

  test('min new tokens suppresses EOS until enough tokens are generated', () => {
    const s = new MinNewTokens(2, [4]);
    assert.deepEqual(apply(s, LOGITS, { tokens: [9, 1], promptLength: 1, text: '' }).ids, [0, 1, 2, 3]);
    assert.deepEqual(apply(s, LOGITS, { tokens: [9, 1, 1], promptLength: 1, text: '' }).ids, [0, 1, 2, 3, 4]);
  });
});

const settings = (s: Partial<ChainSettings>): ChainSettings => ({ ...DEFAULTS, ...s });

describe('the chain', () => {
  test('presets order the stages as Hugging Face and llama.cpp do', () => {
    assert.deepEqual(new SamplingChain(settings({ temperature: 2, top_p: 0.7, min_p: 0.1 })).samplers.map((s) => s.name), ['temperature', 'top_p', 'min_p']);
    assert.deepEqual(new SamplingChain(settings({ temperature: 2, top_p: 0.7, min_p: 0.1, chain: 'llama.cpp' })).samplers.map((s) => s.name), ['top_p', 'min_p', 'temperature']);
    assert.deepEqual(stageOrder(['top_k', 'temperature']), ['top_k', 'temperature']);
    assert.throws(() => stageOrder('vllm'), /^UserError: --chain must be hf or llama\.cpp, or a comma-separated list of stages/);
    assert.throws(() => new SamplingChain(settings({ top_p: 0.5, chain: ['top_k'] })), /^UserError: top_p is set but the chain \(top_k\) does not include it$/);
  });

  test('the order matters: temperature before top-p keeps more of a flattened distribution', () => {
    // T = 2 gives p ∝ √p: 0.343, 0.243, 0.172, … so top-p 0.7 keeps three tokens; on the raw distribution, two.
    const trace = (chain: string) => new SamplingChain(settings({ temperature: 2, top_p: 0.7, chain })).sampleWithTrace(LOGITS, new Rng(1), EMPTY, 5, String).trace;
    assert.equal(trace('hf').kept_count, 3);
    assert.equal(trace('llama.cpp').kept_count, 2);
  });

  test('temperature 0 is greedy after the processors: bias can change it, filters cannot', () => {
    assert.equal(new SamplingChain(settings({ temperature: 0, top_k: 3, top_p: 0.1, min_p: 0.9 })).sample(LOGITS, new Rng(1), EMPTY), 2);
    const biased = new SamplingChain(settings({ temperature: 0 }), { logitBias: new Map([[4, 2]]) });
    assert.equal(biased.sample(LOGITS, new Rng(1), EMPTY), 4);
    assert.deepEqual(biased.samplers.map((s) => s.name), ['logit_bias']);
    assert.equal(argmax(Float32Array.of(1, 3, 3, 2)), 1);
  });

  test('all but one filtered, −∞ logits, and nothing left', () => {
    const chain = new SamplingChain(settings({ min_p: 0.99 }));
    for (let i = 0; i < 20; i++) assert.equal(chain.sample(LOGITS, new Rng(i), EMPTY), 2);
    const withInf = Float32Array.of(-Infinity, 0, -Infinity, 0);
    const draws = new Set(Array.from({ length: 50 }, (_, i) => new SamplingChain(settings({})).sample(withInf, new Rng(i), EMPTY)));
    assert.deepEqual([...draws].sort(), [1, 3]);
    const none = new SamplingChain(settings({}), { logitBias: new Map([[1, -Infinity], [3, -Infinity]]) });
    assert.throws(() => none.sample(withInf, new Rng(1), EMPTY), /^UserError: every token was removed by logit_bias; nothing is left to sample$/);
  });

  test('draws follow the filtered distribution', () => {
    const chain = new SamplingChain(settings({ top_p: 0.8 }));
    const rng = new Rng(5);
    const counts = new Map<number, number>();
    const N = 20000;
    for (let i = 0; i < N; i++) { const t = chain.sample(LOGITS, rng, EMPTY); counts.set(t, (counts.get(t) ?? 0) + 1); }
    assert.deepEqual([...counts.keys()].sort(), [1, 2, 4]);
    // Renormalized over {1/2, 1/4, 1/8}: 4/7, 2/7, 1/7; 3σ ≈ 0.011 at N = 20000.
    assert.ok(Math.abs(counts.get(2)! / N - 4 / 7) < 0.012);
    assert.ok(Math.abs(counts.get(1)! / N - 2 / 7) < 0.012);
    assert.ok(Math.abs(counts.get(4)! / N - 1 / 7) < 0.012);
  });

  test('same seed, same draws', () => {
    const chain = new SamplingChain(settings({ temperature: 1.3, top_k: 4, top_p: 0.95 }));
    const a = new Rng(9), b = new Rng(9);
    assert.deepEqual(Array.from({ length: 50 }, () => chain.sample(LOGITS, a, EMPTY)), Array.from({ length: 50 }, () => chain.sample(LOGITS, b, EMPTY)));
  });

  test('the trace explains a step', () => {
    const chain = new SamplingChain(settings({ temperature: 0.5, top_k: 3, min_p: 0.2 }));
    const { token, trace } = chain.sampleWithTrace(LOGITS, new Rng(3), EMPTY, 4, (id) => `t${id}`);
    assert.deepEqual(trace.stages, ['temperature', 'top_k', 'min_p']);
    assert.deepEqual(trace.candidates.map((c) => c.token_id), [2, 1, 4, 0]);
    assert.deepEqual(trace.candidates.map((c) => c.removed_by), [null, null, 'min_p', 'top_k']);
    // After temperature 0.5: p² renormalized (z = 0.3359375); top-k 3 leaves z = 0.328125, and min_p 0.2
    // then cuts below 0.2 × 0.762 = 0.152, removing id 4 (0.048).
    close(trace.candidates[0]!.stage_probs[0]!, 0.25 / 0.3359375);
    close(trace.candidates[2]!.stage_probs[1]!, 0.015625 / 0.328125);
    assert.equal(trace.candidates[3]!.stage_probs[1], 0);
    close(trace.candidates[0]!.final_prob, 0.25 / 0.3125);
    assert.equal(trace.kept_count, 2);
    close(trace.kept_mass, 0.75);
    close(trace.entropy_bits, 1.875);
    close(trace.final_entropy_bits, entropyBits([0.8, 0.2]));
    assert.equal(trace.chosen.token_id, token);
    assert.equal(trace.chosen.rank, token === 2 ? 1 : 2);
  });
});

test('sampleWithEntropy: the same draw as sample(), and the entropy of the distribution drawn from', () => {
  const chain = new SamplingChain(settings({ temperature: 0.5, top_k: 3, min_p: 0.2 }));
  const a = new Rng(11), b = new Rng(11);
  for (let i = 0; i < 20; i++) {
    const { token, entropy_bits } = chain.sampleWithEntropy(LOGITS, a, EMPTY);
    assert.equal(token, chain.sample(LOGITS, b, EMPTY));
    close(entropy_bits, entropyBits([0.8, 0.2])); // the step traced above: {0.8, 0.2} is left
  }
  const greedy = new SamplingChain(settings({ temperature: 0 }));
  assert.deepEqual(greedy.sampleWithEntropy(LOGITS, new Rng(1), EMPTY), { token: 2, entropy_bits: 0 });
  close(new SamplingChain(settings({})).sampleWithEntropy(LOGITS, new Rng(1), EMPTY).entropy_bits, 1.875);
});

test('tokenStats: logprob of the chosen token and entropy of the raw distribution', () => {
  const t = tokenStats(LOGITS, 4);
  close(t.logprob, Math.log(0.125));
  close(t.entropy_bits, 1.875); // 1/16·4 + 1/4·2 + 1/2·1 + 1/16·4 + 1/8·3
  assert.deepEqual(tokenStats(Float32Array.of(0, -Infinity), 0), { logprob: 0, entropy_bits: 0 });
});

test('logprobs: chosen token and top-N from the unmodified distribution, ties by lower id', () => {
  const lp = stepLogprobs(LOGITS, 3, 3, (id) => `t${id}`);
  assert.equal(lp.token_id, 3);
  assert.equal(lp.token, 't3');
  close(lp.logprob, Math.log(0.0625));
  assert.deepEqual(lp.top_logprobs.map((t) => t.token_id), [2, 1, 4]);
  close(lp.top_logprobs[0]!.logprob, Math.log(0.5));
  const tie = stepLogprobs(Float32Array.of(0, 5, 0, 5), 0, 4, String);
  assert.deepEqual(tie.top_logprobs.map((t) => t.token_id), [1, 3, 0, 2]);
});
