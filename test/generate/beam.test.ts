import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { beamSearch, logSoftmax } from '../../src/generate/beam.js';
import { drawDistinct, DRAW_BLOCK } from '../../src/generate/beam-draw.js';
import { generate, Generation, prepareRequest } from '../../src/generate/generate.js';
import type { Run, Sample } from '../../src/generate/report.js';
import type { SettingsInput } from '../../src/generate/settings.js';
import { loadModel, type Model } from '../../src/model/load.js';
import { rngFor, type Rng } from '../../src/sampling/rng.js';
import { vectorMath } from '../../src/sampling/vector-math.js';
import { fixture, SMALL } from '../fixtures/models.js';
import { needsShared, sharedModel, userError } from '../helpers.js';

const STORIES = 'stories260K.gguf';

/** What a reference hypothesis is: its generated tokens, why it ended, its sum of log-probs and score (and group). */
interface RefHypothesis { tokens: number[]; reason: string; sum: number; score: number; group?: number }

interface RefProcessors { bias?: Map<number, number>; ngram?: number; stop?: string[]; repetition?: number }

interface RefOptions extends RefProcessors {
  beams: number; lengthPenalty: number; earlyStopping: boolean | 'never'; maxNew: number;
  /**
   * Beam sampling: temperature and top_k warp each beam's log-probs (top_k keeping at least 1 + the
   * number of EOS ids, as Hugging Face does for beams), and the candidates are drawn with rngFor(seed, 0).
   */
  sample?: { seed: number; temperature: number; topK: number };
}

/**
 * Every beam's next-token log-probabilities from a fresh forward pass over its whole prefix, with no KV
 * caches and nothing clever: log-softmax in f64, the bias added and n-gram repeats banned in f64.
 */
function logProbsOf(model: Model, o: RefProcessors): (tokens: number[], first?: (scores: Float64Array) => void) => Float64Array {
  return (tokens, first) => {
    const logits = model.withScratch(() => model.forward(tokens, model.newCache(tokens.length)));
    let max = -Infinity, sum = 0;
    for (const x of logits) max = Math.max(max, x);
    for (const x of logits) sum += Math.exp(x - max);
    const out = Float64Array.from(logits, (x) => x - max - Math.log(sum));
    // A processor that runs before the others (group search's diversity penalty, first in HF's list).
    first?.(out);
    for (const [id, b] of o.bias ?? []) out[id]! += b;
    // HF's repetition penalty on every token of the prefix: negative scores multiplied, positive divided.
    if (o.repetition) for (const t of new Set(tokens)) out[t] = out[t]! < 0 ? out[t]! * o.repetition : out[t]! / o.repetition;
    if (o.ngram) {
      const n = o.ngram, tail = tokens.slice(tokens.length - (n - 1));
      for (let s = 0; s + n <= tokens.length; s++) if (tail.every((t, j) => tokens[s + j] === t)) out[tokens[s + n - 1]!] = -Infinity;
    }
    return out;
  };
}

/**
 * Sampling without replacement the plain way: each draw takes u from the generator and walks every
 * entry in order, summing the weights not drawn yet, to the first whose running sum exceeds u × their total.
 */
function drawPlainly(weights: number[], k: number, rng: Rng): number[] {
  const w = [...weights], out: number[] = [];
  while (out.length < k) {
    const total = w.reduce((a, b) => a + b, 0);
    if (!(total > 0)) break;
    const target = rng.uniform() * total;
    let cum = 0, pick = -1;
    for (let i = 0; i < w.length; i++) {
      if (!(w[i]! > 0)) continue;
      pick = i;
      cum += w[i]!;
      if (cum > target) break;
    }
    out.push(pick);
    w[pick] = 0;
  }
  return out;
}

/**
 * A plain beam search written from Hugging Face's rules (transformers 4.50+ `_beam_search`, with
 * do_sample or without).
 */
function referenceBeams(model: Model, prompt: number[], o: RefOptions): RefHypothesis[] {
  const P = prompt.length, B = o.beams, eos = new Set(model.tokenizer.eosIds);
  const keep = Math.max(2, 1 + eos.size) * B;
  const maxLength = Math.min(P + o.maxNew, model.config.contextLength + 1);
  const decode = (ids: number[]) => (ids.length ? model.tokenizer.decode(ids) : '');
  const processed = logProbsOf(model, o);
  const rng = o.sample && rngFor(o.sample.seed, 0);
  const nextLogProbs = (tokens: number[]): Float64Array => {
    const lp = processed(tokens);
    if (!o.sample) return lp;
    const { temperature, topK } = o.sample;
    for (let i = 0; i < lp.length; i++) lp[i]! /= temperature;
    if (topK > 0) {
      const k = Math.max(topK, 1 + eos.size, 2);
      const ranked = [...lp.keys()].sort((a, b) => lp[b]! - lp[a]! || a - b);
      for (const id of ranked.slice(k)) lp[id] = -Infinity;
    }
    return lp;
  };
  let running: { tokens: number[]; sum: number }[] = [{ tokens: [], sum: 0 }];
  const finished: RefHypothesis[] = [];
  let improvable = true;
  for (let cur = P; ; cur++) {
    const all: { beam: number; token: number; sum: number }[] = [];
    running.forEach((beam, b) => {
      const lp = nextLogProbs([...prompt, ...beam.tokens]);
      lp.forEach((v, token) => { if (v !== -Infinity) all.push({ beam: b, token, sum: beam.sum + v }); });
    });
    let top: typeof all;
    if (rng) {
      // Drawn in the order (beam, token id), each with weight exp(sum), as the softmax over all beams.
      const max = Math.max(...all.map((c) => c.sum));
      top = drawPlainly(all.map((c) => Math.exp(c.sum - max)), keep, rng).map((i) => all[i]!);
    } else {
      all.sort((x, y) => y.sum - x.sum || x.beam - y.beam || x.token - y.token);
      top = all.slice(0, keep);
    }
    const endOf = (c: { beam: number; token: number }): string | undefined => {
      if (eos.has(c.token)) return 'eos';
      const text = decode([...running[c.beam]!.tokens, c.token]);
      if (o.stop?.some((s) => text.includes(s))) return 'stop_sequence';
      if (cur + 1 >= maxLength) return cur + 1 >= P + o.maxNew ? 'max_tokens' : 'context_full';
      return undefined;
    };
    // The best that did not end (a stable sort: drawn candidates with equal sums keep their draw order).
    const next = top.filter((c) => !endOf(c)).sort((x, y) => y.sum - x.sum).slice(0, B).map((c) => ({ tokens: [...running[c.beam]!.tokens, c.token], sum: c.sum }));
    if (improvable) {
      for (const c of top.slice(0, B)) {
        const reason = endOf(c);
        if (reason) finished.push({ tokens: [...running[c.beam]!.tokens, c.token], reason, sum: c.sum, score: c.sum / (cur + 1 - P) ** o.lengthPenalty });
      }
      finished.sort((x, y) => y.score - x.score); // stable: earlier hypotheses first among equals
      finished.length = Math.min(finished.length, B);
    }
    if (improvable && next.length > 0) {
      const length = o.earlyStopping === 'never' && o.lengthPenalty > 0 ? maxLength - P : cur + 1 - P;
      improvable = finished.length < B || next[0]!.sum / length ** o.lengthPenalty > finished[B - 1]!.score;
    }
    if (!improvable || (o.earlyStopping === true && finished.length === B) || next.length === 0) return finished;
    running = next;
  }
}

interface RefGroupOptions extends RefProcessors { beams: number; groups: number; penalty: number; lengthPenalty: number; earlyStopping: boolean | 'never'; maxNew: number }

/**
 * A plain group beam search written from Hugging Face's `_group_beam_search` (transformers 4.55 / the
 * hub's transformers-community/group-beam-search) and its BeamSearchScorer, written as the Python
 * reads: each group's BeamHypotheses with its worst_score, is_done, and finalize's pooled sort and pop.
 */
function referenceGroups(model: Model, prompt: number[], o: RefGroupOptions): RefHypothesis[] {
  const P = prompt.length, G = o.groups, size = o.beams / G, eos = new Set(model.tokenizer.eosIds), lp = o.lengthPenalty;
  const keep = Math.max(2, 1 + eos.size) * size;
  const maxLength = Math.min(P + o.maxNew, model.config.contextLength + 1);
  const decode = (ids: number[]) => (ids.length ? model.tokenizer.decode(ids) : '');
  const nextLogProbs = logProbsOf(model, o);
  const hyps = Array.from({ length: G }, () => ({ beams: [] as RefHypothesis[], worst: 1e9 }));
  const add = (g: number, h: RefHypothesis) => {
    const H = hyps[g]!;
    if (H.beams.length < size || h.score > H.worst) {
      H.beams.push(h);
      if (H.beams.length > size) {
        const sorted = H.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        H.beams.splice(sorted[0]![1], 1);
        H.worst = sorted[1]![0];
      } else H.worst = Math.min(h.score, H.worst);
    }
  };
  const isDone = (g: number, best: number, curLen: number) => {
    const H = hyps[g]!;
    if (H.beams.length < size) return false;
    if (o.earlyStopping === true) return true;
    const length = o.earlyStopping === 'never' && lp > 0 ? maxLength - P : curLen - P;
    return H.worst >= best / length ** lp;
  };
  const done = hyps.map(() => false);
  let running = hyps.map(() => [{ tokens: [] as number[], sum: 0 }]);
  for (let cur = P; ; cur++) {
    const taken: number[] = [];
    const next = running.map(() => [] as { tokens: number[]; sum: number }[]);
    for (let g = 0; g < G; g++) {
      if (done[g]) continue;
      const all: { beam: number; token: number; sum: number }[] = [];
      running[g]!.forEach((beam, b) => {
        const scores = nextLogProbs([...prompt, ...beam.tokens], (lp) => { for (const t of taken) lp[t]! -= o.penalty; });
        scores.forEach((v, token) => { if (v !== -Infinity) all.push({ beam: b, token, sum: beam.sum + v }); });
      });
      all.sort((x, y) => y.sum - x.sum || x.beam - y.beam || x.token - y.token);
      const top = all.slice(0, keep);
      if (top.length === 0) continue;
      for (let rank = 0; rank < top.length && next[g]!.length < size; rank++) {
        const c = top[rank]!, tokens = [...running[g]![c.beam]!.tokens, c.token];
        const reason = eos.has(c.token) ? 'eos' : o.stop?.some((s) => decode(tokens).includes(s)) ? 'stop_sequence' : undefined;
        if (!reason) next[g]!.push({ tokens, sum: c.sum });
        else if (rank < size) add(g, { tokens, reason, sum: c.sum, score: c.sum / (cur + 1 - P) ** lp, group: g });
      }
      done[g] = isDone(g, top[0]!.sum, cur + 1);
      taken.push(...next[g]!.map((b) => b.tokens[b.tokens.length - 1]!));
    }
    if (cur + 1 >= maxLength) {
      const reason = cur + 1 >= P + o.maxNew ? 'max_tokens' : 'context_full';
      next.forEach((beams, g) => { if (!done[g]) for (const b of beams) add(g, { ...b, reason, score: b.sum / b.tokens.length ** lp, group: g }); });
      break;
    }
    if (done.every(Boolean) || next.every((beams) => beams.length === 0)) break;
    running = next;
  }
  // finalize: Python's stable sorted() by score, then pop() from the end.
  const sorted = hyps.flatMap((H) => H.beams).sort((a, b) => a.score - b.score);
  const out: RefHypothesis[] = [];
  while (sorted.length) out.push(sorted.pop()!);
  return out;
}

/**
 * Wander's beam search, called directly, so that one beam runs too: generate() decodes greedily then, and
 * the settings refuse beam-only fields (a length penalty) with one beam, so such a request is prepared as
 * for two beams and then set to one.
 */
function beams(model: Model, prompt: string, settings: SettingsInput): Run {
  const one = settings.num_beams === 1;
  const request = prepareRequest(model, prompt, { seed: 1, ...settings, ...(one && { num_beams: 2 }) });
  return beamSearch(model, one ? { ...request, settings: { ...request.settings, num_beams: 1 } } : request, {});
}

function assertSameHypotheses(got: Sample[], want: RefHypothesis[], label: string): void {
  assert.equal(got.length, want.length, `${label}: number of sequences`);
  got.forEach((s, i) => {
    const w = want[i]!;
    assert.deepEqual(s.token_ids, w.tokens, `${label}: sequence ${i}`);
    assert.equal(s.finish_reason, w.reason, `${label}: finish reason of ${i}`);
    assert.ok(Math.abs(s.score! - w.score) < 1e-5, `${label}: score of ${i}: ${s.score} vs ${w.score}`);
    assert.ok(Math.abs(s.sum_logprobs! - w.sum) < 1e-5, `${label}: sum of log-probs of ${i}: ${s.sum_logprobs} vs ${w.sum}`);
    assert.equal(s.group, w.group, `${label}: group of ${i}`);
  });
}

interface Case { name: string; path: () => string; prompt: string; eos: number; eosBias: number; skip: () => { skip: string | false } }
const CASES: Case[] = [
  // The EOS biases make EOS win inside some beams and not others at these lengths (found by trying).
  { name: 'stories260K', path: () => sharedModel(STORIES)!, prompt: 'Once upon a time', eos: 2, eosBias: 20, skip: () => needsShared(STORIES) },
  { name: 'the GPT-2 fixture', path: () => fixture('gguf', SMALL.gpt2), prompt: 'The cat', eos: 287, eosBias: 14, skip: () => ({ skip: false }) },
  { name: 'the Llama fixture', path: () => fixture('gguf', SMALL.llama), prompt: 'The cat', eos: 2, eosBias: 2, skip: () => ({ skip: false }) },
];

for (const c of CASES) {
  describe(`beam search on ${c.name}`, () => {
    let loaded: Model | undefined;
    const model = () => (loaded ??= loadModel(c.path()));
    const ids = () => model().tokenizer.encode(c.prompt);

    test('B = 1, 2, 4, 8 with length penalties 0, 1 and 2, with and without EOS inside the beams: the same sequences and scores as the reference', c.skip(), () => {
      const m = model();
      const reasons = new Set<string>();
      for (const bias of [0, c.eosBias]) {
        for (const B of [1, 2, 4, 8]) {
          for (const lp of [0, 1, 2]) {
            const settings: SettingsInput = { num_beams: B, num_return_sequences: B, length_penalty: lp, max_tokens: 12, logit_bias: bias ? [{ token_id: c.eos, bias }] : [] };
            const run = beams(m, c.prompt, settings);
            const want = referenceBeams(m, ids(), { beams: B, lengthPenalty: lp, earlyStopping: false, maxNew: 12, bias: new Map(bias ? [[c.eos, bias]] : []) });
            assertSameHypotheses(run.samples, want, `bias ${bias}, B ${B}, length_penalty ${lp}`);
            for (const s of run.samples) reasons.add(s.finish_reason);
          }
        }
      }
      // The cases exercise both ends: hypotheses ended by EOS and by the length limit.
      assert.deepEqual([...reasons].sort(), ['eos', 'max_tokens']);
    });

    test('beam sampling: B = 2, 4, 8 at temperatures 1, 0.7, 1.5 with top_k off, 1 and 5, with and without EOS inside the beams: the same draws, sequences and scores as the reference', c.skip(), () => {
      const m = model();
      const reasons = new Set<string>();
      let drewOtherwise = false;
      for (const bias of [0, c.eosBias]) {
        for (const B of [2, 4, 8]) {
          for (const [temperature, topK, seed] of [[1, 0, 1], [0.7, 1, 2], [1.5, 5, 3]] as const) {
            const logit_bias = bias ? [{ token_id: c.eos, bias }] : [];
            const settings: SettingsInput = { num_beams: B, num_return_sequences: B, do_sample: true, seed, temperature, top_k: topK, max_tokens: 12, logit_bias };
            const run = beams(m, c.prompt, settings);
            const want = referenceBeams(m, ids(), { beams: B, lengthPenalty: 1, earlyStopping: false, maxNew: 12, bias: new Map(bias ? [[c.eos, bias]] : []), sample: { seed, temperature, topK } });
            assertSameHypotheses(run.samples, want, `bias ${bias}, B ${B}, temperature ${temperature}, top_k ${topK}, seed ${seed}`);
            for (const s of run.samples) reasons.add(s.finish_reason);
            const searched = beams(m, c.prompt, { num_beams: B, num_return_sequences: B, max_tokens: 12, logit_bias });
            drewOtherwise ||= JSON.stringify(searched.samples.map((s) => s.token_ids)) !== JSON.stringify(run.samples.map((s) => s.token_ids));
          }
        }
      }
      assert.deepEqual([...reasons].sort(), ['eos', 'max_tokens']);
      // The draws chose beams that beam search does not keep.
      assert.ok(drewOtherwise);
    });

    test('diverse beam search: B = 4 and 8 in 2 and 4 groups, and B = G, with λ 0.5 and 3, length penalties 0, 1 and 2, each early_stopping, with and without EOS inside the beams: the same sequences, scores and groups as the reference', c.skip(), () => {
      const m = model();
      const reasons = new Set<string>();
      const variants = [[0.5, 0, false], [0.5, 1, false], [3, 0, false], [3, 1, false], [0.5, 1, true], [3, 2, 'never']] as const;
      for (const bias of [0, c.eosBias]) {
        for (const [B, G] of [[4, 2], [8, 2], [8, 4], [4, 4]] as const) {
          for (const [penalty, lp, es] of variants) {
            const settings: SettingsInput = { num_beams: B, num_return_sequences: B, num_beam_groups: G, diversity_penalty: penalty, length_penalty: lp, early_stopping: es, max_tokens: 10, logit_bias: bias ? [{ token_id: c.eos, bias }] : [] };
            const run = beams(m, c.prompt, settings);
            const want = referenceGroups(m, ids(), { beams: B, groups: G, penalty, lengthPenalty: lp, earlyStopping: es, maxNew: 10, bias: new Map(bias ? [[c.eos, bias]] : []) });
            assertSameHypotheses(run.samples, want, `bias ${bias}, B ${B}, G ${G}, λ ${penalty}, length_penalty ${lp}, early_stopping ${es}`);
            for (const s of run.samples) reasons.add(s.finish_reason);
          }
        }
      }
      assert.deepEqual([...reasons].sort(), ['eos', 'max_tokens']);
    });

    test('diverse beam search with a repetition penalty: the diversity penalty comes first, as in Hugging Face\'s processor list', c.skip(), () => {
      const m = model();
      for (const [B, G] of [[4, 2], [4, 4]] as const) {
        const settings: SettingsInput = { num_beams: B, num_return_sequences: B, num_beam_groups: G, diversity_penalty: 1.5, repetition_penalty: 1.8, max_tokens: 10 };
        const want = referenceGroups(m, ids(), { beams: B, groups: G, penalty: 1.5, lengthPenalty: 1, earlyStopping: false, maxNew: 10, repetition: 1.8 });
        assertSameHypotheses(beams(m, c.prompt, settings).samples, want, `B ${B}, G ${G}`);
      }
    });

    test('diverse beam search with B = G: group 0 is greedy decoding (never penalised, one beam wide, done once its best candidate ends)', c.skip(), () => {
      const m = model();
      for (const bias of [0, c.eosBias]) {
        const logit_bias = bias ? [{ token_id: c.eos, bias }] : [];
        const greedy = generate(m, c.prompt, { temperature: 0, max_tokens: 12, logit_bias }).samples[0]!;
        const run = beams(m, c.prompt, { num_beams: 4, num_return_sequences: 4, num_beam_groups: 4, diversity_penalty: 2, max_tokens: 12, logit_bias });
        const first = run.samples.filter((s) => s.group === 0);
        assert.equal(first.length, 1, `bias ${bias}`);
        assert.deepEqual(first[0]!.token_ids, greedy.token_ids, `bias ${bias}`);
        assert.equal(first[0]!.finish_reason, greedy.finish_reason, `bias ${bias}`);
      }
    });

    test('one beam is greedy decoding, with and without an EOS', c.skip(), () => {
      const m = model();
      for (const bias of [0, c.eosBias]) {
        const logit_bias = bias ? [{ token_id: c.eos, bias }] : [];
        const greedy = generate(m, c.prompt, { temperature: 0, max_tokens: 16, logit_bias }).samples[0]!;
        const one = beams(m, c.prompt, { num_beams: 1, max_tokens: 16, logit_bias }).samples[0]!;
        assert.deepEqual(one.token_ids, greedy.token_ids, `bias ${bias}`);
        assert.equal(one.finish_reason, greedy.finish_reason);
        assert.equal(one.text, greedy.text);
      }
    });

  });
}

describe('beam search: early stopping', () => {
  // Settings where early_stopping changes the result (found by trying), so each rule is seen to act.
  const cases = [
    { spec: SMALL.llama, eos: 2, bias: 2, beams: 2, lp: 2, differ: [true, 'never'] },
    { spec: SMALL.llama, eos: 2, bias: 2, beams: 4, lp: 1, differ: ['never'] },
    { spec: SMALL.gpt2, eos: 287, bias: 15, beams: 4, lp: 1, differ: [true] },
  ] as const;
  test('true (stop once num_beams hypotheses finished) and "never" (judge running beams at the longest length) as Hugging Face does', () => {
    for (const c of cases) {
      const m = loadModel(fixture('gguf', c.spec));
      const ids = m.tokenizer.encode('The cat');
      const results = new Map<boolean | 'never', number[][]>();
      for (const es of [false, true, 'never'] as const) {
        const settings: SettingsInput = { num_beams: c.beams, num_return_sequences: c.beams, length_penalty: c.lp, early_stopping: es, max_tokens: 10, logit_bias: [{ token_id: c.eos, bias: c.bias }] };
        const run = beams(m, 'The cat', settings);
        assertSameHypotheses(run.samples, referenceBeams(m, ids, { beams: c.beams, lengthPenalty: c.lp, earlyStopping: es, maxNew: 10, bias: new Map([[c.eos, c.bias]]) }), `${c.spec.arch} B ${c.beams} length_penalty ${c.lp} early_stopping ${es}`);
        results.set(es, run.samples.map((x) => x.token_ids));
      }
      for (const es of c.differ) assert.notDeepEqual(results.get(es), results.get(false), `early_stopping ${es} changes ${c.spec.arch} B ${c.beams}`);
    }
  });
});

describe('beam search and max_batch_size', () => {
  test('a beam\'s score is exactly what its tokens score decoded alone: the batch of beams changes no logit (so no batch size can)', () => {
    for (const spec of [SMALL.llama, SMALL.gpt2]) {
      const m = loadModel(fixture('gguf', spec));
      const run = generate(m, 'The cat', { num_beams: 8, num_return_sequences: 8, max_tokens: 16 });
      const prompt = m.tokenizer.encode('The cat'), V = m.config.vocabSize;
      const logp = new Float32Array(V), work = vectorMath.alloc(V), exps = vectorMath.alloc(V);
      for (const beam of run.samples) {
        // One sequence, one token at a time, its own cache; the same log-softmax and the same f64 sum order.
        let sum = 0;
        m.withScratch(() => {
          const cache = m.newCache(prompt.length + beam.token_ids.length);
          let logits = m.forward(prompt, cache);
          for (const t of beam.token_ids) {
            logSoftmax(logits, logp, work, exps);
            sum += logp[t]!;
            logits = m.forward([t], cache);
          }
        });
        assert.equal(beam.sum_logprobs, sum, `${spec.arch}: beam ${beam.index}`);
      }
    }
  });
});

describe('beam sampling', () => {
  const m = () => loadModel(fixture('gguf', SMALL.llama));
  const tokens = (r: Run) => r.samples.map((s) => s.token_ids);

  test('the same seed draws the same beams, scores and all; another seed draws others', () => {
    const model = m();
    const settings: SettingsInput = { num_beams: 4, num_return_sequences: 4, do_sample: true, max_tokens: 12 };
    const a = generate(model, 'The cat', { ...settings, seed: 7 });
    const again = generate(model, 'The cat', { ...settings, seed: 7 });
    assert.deepEqual(again.samples, a.samples);
    assert.equal(a.settings.seed, 7);
    for (const seed of [8, 9]) assert.notDeepEqual(tokens(generate(model, 'The cat', { ...settings, seed })), tokens(a), `seed ${seed}`);
  });

  test('what it sums are the warped scores: at temperature T each token adds its processed log-prob / T', () => {
    const model = m();
    const run = generate(model, 'The cat', { num_beams: 2, do_sample: true, seed: 3, temperature: 0.5, max_tokens: 6, top_logprobs: 1 }, { tokenStats: true });
    const s = run.samples[0]!;
    // No processor runs, so each token's score is the model's log-prob divided by T.
    const total = s.token_logprobs!.reduce((x, y) => x + y, 0) / 0.5;
    assert.ok(Math.abs(total - s.sum_logprobs!) < 1e-4, `${total} vs ${s.sum_logprobs}`);
    // Each token was drawn from its beam's warped distribution, which has entropy; beam search draws nothing.
    assert.ok(s.token_sampled_entropy_bits!.every((h) => h > 0), JSON.stringify(s.token_sampled_entropy_bits));
    assert.deepEqual(run.settings.stages, ['temperature']);
    const searched = generate(model, 'The cat', { num_beams: 2, max_tokens: 6 }, { tokenStats: true }).samples[0]!;
    assert.ok(searched.token_sampled_entropy_bits!.every((h) => h === 0));
  });

  test('temperature 0 is refused, as Hugging Face refuses it (the chain would drop the warpers and decode greedily)', () => {
    assert.throws(() => generate(m(), 'The cat', { num_beams: 2, do_sample: true, temperature: 0, top_k: 5 }),
      userError('--temperature 0 cannot be used with --do-sample: beam sampling draws from the warped distribution, which needs a temperature above 0 (Hugging Face refuses 0 too)', 'temperature'));
  });
});

describe('drawDistinct (sampling without replacement)', () => {
  /** A generator that returns the given uniforms in turn. */
  const scripted = (...us: number[]) => ({ uniform: () => us.shift()! });

  test('hand-computed draws: the first entry whose running sum exceeds u × the remaining weight, drawn entries removed', () => {
    // Weights 1, 0, 3, 4 (total 8). u = 0.1 → 0.8 < 1: entry 0. Left 0, 0, 3, 4 (7): u = 0.5 → 3.5 > 3: entry 3.
    // Left 3: u = 0.99 → entry 2. Entry 1 weighs nothing and is never drawn, whatever k asks.
    assert.deepEqual(drawDistinct(Float64Array.of(1, 0, 3, 4), 4, 4, scripted(0.1, 0.5, 0.99)), [0, 3, 2]);
    assert.deepEqual(drawDistinct(Float64Array.of(1, 0, 3, 4), 4, 2, scripted(0.7, 0)), [3, 0]);
  });

  test('across blocks of running sums it draws what one running sum over every entry draws', () => {
    const n = 3 * DRAW_BLOCK + 17, weights: number[] = [];
    const gen = rngFor(11, 0);
    // Sparse, uneven weights, many of them in blocks of their own.
    for (let i = 0; i < n; i++) weights.push(gen.uniform() < 0.02 ? Math.exp(8 * gen.uniform()) : 0);
    const drawn = drawDistinct(Float64Array.from(weights), n, 40, rngFor(12, 0));
    assert.deepEqual(drawn, drawPlainly(weights, 40, rngFor(12, 0)));
    assert.equal(new Set(drawn).size, 40);
  });

  test('each draw picks an entry with probability proportional to its weight', () => {
    const counts = [0, 0, 0];
    const gen = rngFor(5, 0);
    for (let t = 0; t < 20000; t++) counts[drawDistinct(Float64Array.of(1, 2, 5), 3, 1, gen)[0]!]!++;
    counts.forEach((n, i) => assert.ok(Math.abs(n / 20000 - [1, 2, 5][i]! / 8) < 0.01, `${i}: ${n}`));
  });
});

describe('diverse beam search', () => {
  test('a large λ gives every group a different first token; a small one lets groups share it', () => {
    const model = loadModel(fixture('gguf', SMALL.llama));
    const first = (penalty: number) => beams(model, 'The cat', { num_beams: 4, num_return_sequences: 4, num_beam_groups: 4, diversity_penalty: penalty, max_tokens: 6 }).samples.map((s) => s.token_ids[0]);
    assert.equal(new Set(first(1000)).size, 4);
    assert.ok(new Set(first(0.01)).size < 4, JSON.stringify(first(0.01)));
  });

  test('λ = 0 with groups is refused, as Hugging Face refuses it (every group would run the same search)', () => {
    const model = loadModel(fixture('gguf', SMALL.llama));
    assert.throws(() => generate(model, 'The cat', { num_beams: 4, num_beam_groups: 2 }),
      userError('--diversity-penalty must be above 0 with --num-beam-groups 2: without it every group runs the same search and returns the same beams (Hugging Face refuses it too)', 'diversity_penalty'));
  });

  test('--trace: each beam and hypothesis names its group; groups come in order, B/G beams at most each, every beam its parent plus one token', () => {
    const model = loadModel(fixture('gguf', SMALL.llama));
    const run = generate(model, 'The cat', { num_beams: 6, num_beam_groups: 3, diversity_penalty: 1, num_return_sequences: 6, max_tokens: 8, trace: 1, logit_bias: [{ token_id: 2, bias: 2 }] });
    const trace = run.beam_trace!;
    trace.forEach((st, k) => {
      const groups = st.beams.map((b) => b.group!);
      assert.deepEqual(groups, [...groups].sort((a, b) => a - b), `step ${k}`);
      for (const g of [0, 1, 2]) assert.ok(groups.filter((x) => x === g).length <= 2);
      for (const b of [...st.beams, ...st.finished]) {
        assert.ok(b.group! >= 0 && b.group! < 3);
        const parent = k === 0 ? undefined : trace[k - 1]!.beams[b.parent]!;
        // A beam stays in its group (at the first step every group extends the prompt).
        if (parent) assert.equal(parent.group, b.group);
        assert.ok(Math.abs((parent?.sum_logprobs ?? 0) + b.logprob - b.sum_logprobs) < 1e-9);
      }
    });
    assert.ok(trace.some((st) => st.finished.some((f) => f.finish_reason === 'eos')));
    assert.deepEqual(new Set(run.samples.map((s) => s.group)), new Set([0, 1, 2]));
  });
});

describe('beam search on stories260K: processors, stop strings, batches, trace', () => {
  let loaded: Model | undefined;
  const model = () => (loaded ??= loadModel(sharedModel(STORIES)!));
  const PROMPT = 'Once upon a time';

  test('no_repeat_ngram runs inside every beam, and a stop string ends a beam', needsShared(STORIES), () => {
    const m = model(), ids = m.tokenizer.encode(PROMPT);
    const run = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 4, no_repeat_ngram_size: 2, max_tokens: 40 });
    assertSameHypotheses(run.samples, referenceBeams(m, ids, { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 40, ngram: 2 }), 'no_repeat_ngram 2');
    // The ban changed the search: without it the best beam goes back to " the park".
    const free = beams(m, PROMPT, { num_beams: 4, max_tokens: 40 }).samples[0]!;
    assert.equal(free.text.split(' the park').length, 3);
    assert.equal(run.samples[0]!.text.split(' the park').length, 2);
    const stopped = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 4, stop: ['Lily'], max_tokens: 16 });
    assertSameHypotheses(stopped.samples, referenceBeams(m, ids, { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 16, stop: ['Lily'] }), 'stop Lily');
    const lily = stopped.samples.filter((s) => s.finish_reason === 'stop_sequence');
    assert.ok(lily.length > 0);
    for (const s of lily) {
      assert.equal(s.stop_sequence, 'Lily');
      assert.ok(!s.text.includes('Lily') && m.tokenizer.decode(s.token_ids).includes('Lily'), s.text);
    }
  });

  test('diverse beam search, early_stopping true: a group done at the last step adds none of its running beams (finalize skips done groups)', needsShared(STORIES), () => {
    const m = model(), ids = m.tokenizer.encode(PROMPT);
    // Found by trying: here a group fills its finished set at the last step while one of its running beams would beat its worst.
    for (const lp of [0, 1, 2]) {
      const settings: SettingsInput = { num_beams: 8, num_return_sequences: 8, num_beam_groups: 2, diversity_penalty: 3, length_penalty: lp, early_stopping: true, max_tokens: 4, logit_bias: [{ token_id: 2, bias: 20 }] };
      const want = referenceGroups(m, ids, { beams: 8, groups: 2, penalty: 3, lengthPenalty: lp, earlyStopping: true, maxNew: 4, bias: new Map([[2, 20]]) });
      assertSameHypotheses(beams(m, PROMPT, settings).samples, want, `length_penalty ${lp}`);
    }
  });

  test('generate() runs beam search for num_beams > 1 and reports it as a normal run', needsShared(STORIES), () => {
    const m = model();
    const samples: Sample[] = [];
    const run = generate(m, PROMPT, { num_beams: 4, num_return_sequences: 2, max_tokens: 8, top_logprobs: 2 }, { onSample: (s) => samples.push(s), tokenStats: true });
    const direct = beams(m, PROMPT, { num_beams: 4, num_return_sequences: 2, max_tokens: 8, top_logprobs: 2 });
    assert.deepEqual(run.samples.map((s) => [s.token_ids, s.score, s.logprobs]), direct.samples.map((s) => [s.token_ids, s.score, s.logprobs]));
    assert.deepEqual(samples.map((s) => s.index), [0, 1]);
    assert.ok(run.samples[0]!.score! >= run.samples[1]!.score!);
    assert.deepEqual(run.usage, { prompt_tokens: 5, completion_tokens: 16, total_tokens: 21 });
    assert.equal(run.settings.num_beams, 4);
    assert.equal(run.settings.sources.num_beams, 'flag');
    for (const s of run.samples) {
      assert.deepEqual(s.logprobs!.map((l) => l.token_id), s.token_ids);
      // No processor ran, so the beam's sum is the sum of the model's own log-probs of its tokens.
      const total = s.token_logprobs!.reduce((x, y) => x + y, 0);
      assert.ok(Math.abs(total - s.sum_logprobs!) < 1e-4, `${total} vs ${s.sum_logprobs}`);
      assert.deepEqual(s.token_sampled_entropy_bits, s.token_ids.map(() => 0));
    }
  });

  test('--trace: every beam is its parent plus one token, and the best sequence can be followed back', needsShared(STORIES), () => {
    const m = model();
    const run = generate(m, PROMPT, { num_beams: 4, max_tokens: 12, trace: 1, logit_bias: [{ token_id: 2, bias: 20 }] });
    const trace = run.beam_trace!;
    trace.forEach((st, k) => {
      assert.equal(st.step, k);
      for (const b of [...st.beams, ...st.finished]) {
        const before = k === 0 ? 0 : trace[k - 1]!.beams[b.parent]!.sum_logprobs;
        assert.ok(Math.abs(before + b.logprob - b.sum_logprobs) < 1e-9);
      }
    });
    const best = run.samples[0]!;
    const n = best.token_ids.length;
    const end = trace[n - 1]!.finished.find((f) => f.score === best.score)!;
    assert.equal(end.token_id, best.token_ids[n - 1]);
    let parent = end.parent;
    for (let k = n - 2; k >= 0; k--) {
      const b = trace[k]!.beams[parent]!;
      assert.equal(b.token_id, best.token_ids[k], `step ${k}`);
      parent = b.parent;
    }
  });

  test('a full context ends the beams where it ends a greedy sample', needsShared(STORIES), () => {
    const m = loadModel(sharedModel(STORIES)!, { context: 24 });
    const prompt = 'Once upon a time, there was a little girl named Lily. She';
    const greedy = generate(m, prompt, { temperature: 0, max_tokens: 30 }).samples[0]!;
    const one = beams(m, prompt, { num_beams: 1, max_tokens: 30 }).samples[0]!;
    assert.equal(greedy.finish_reason, 'context_full');
    assert.deepEqual(one.token_ids, greedy.token_ids);
    assert.equal(one.finish_reason, 'context_full');
    const four = beams(m, prompt, { num_beams: 4, num_return_sequences: 4, max_tokens: 30 });
    assertSameHypotheses(four.samples, referenceBeams(m, m.tokenizer.encode(prompt), { beams: 4, lengthPenalty: 1, earlyStopping: false, maxNew: 30 }), 'context 24');
  });

  test('interventions apply to every beam, and compareClean runs the same search without them', needsShared(STORIES), () => {
    const m = model();
    const settings = { num_beams: 4, max_tokens: 10 };
    const run = generate(m, PROMPT, { ...settings, ablate: ['0.*', '1.*'] }, { compareClean: true });
    const clean = generate(m, PROMPT, settings);
    assert.deepEqual(run.clean!.samples.map((s) => s.token_ids), clean.samples.map((s) => s.token_ids));
    assert.notDeepEqual(run.samples[0]!.token_ids, clean.samples[0]!.token_ids);
  });

  test('what cannot apply is refused: indices, and the shared scheduler (servers, sweeps, llama.cpp)', needsShared(STORIES), () => {
    const m = model();
    assert.throws(() => generate(m, PROMPT, { num_beams: 4, num_return_sequences: 2 }, { indices: [1] }),
      userError('indices [1] cannot be run alone: beam search returns its 2 best sequences together (indices [0,1]), not independent samples', 'indices'));
    assert.throws(() => new Generation(m, PROMPT, { num_beams: 4 }),
      userError('num_beams (beam search) runs through generate() (wander generate), not through the shared scheduler that decodes samples for servers and sweeps', 'num_beams'));
    const other = { tokenizer: m.tokenizer, config: m.config, generationDefaults: {} };
    assert.throws(() => new Generation(other, PROMPT, { penalty_alpha: 0.5, top_k: 4 }),
      userError('--penalty-alpha (contrastive search) needs Wander\'s own engine (--model FILE): node-llama-cpp gives every logit but cannot copy one sequence\'s KV cache to another, which every step needs', 'penalty_alpha'));
    // A bad prompt is refused as it is for sampling.
    assert.throws(() => generate(m, [9999], { num_beams: 2 }), userError('--prompt: token id 9999 is outside the vocabulary (0..511)', 'prompt'));
  });
});
