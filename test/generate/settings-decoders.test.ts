import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextTokenDistribution } from '../../src/generate/next.js';
import { cliNaming, DEFAULTS, parseSettings, resolveSettings } from '../../src/generate/settings.js';
import { loadModel } from '../../src/model/load.js';
import { DEFAULT_MODEL } from '../../src/resolve/embedded.js';
import { userError } from '../helpers.js';

// The settings of the decoders and samplers that are not a plain per-step filter (beam and contrastive
// search, DRY, XTC, mirostat, dynamic temperature, smoothing, top-H): each value checked by the one
// schema, and the combinations that make no sense refused with a line saying why.

describe('the new decoding settings', () => {
  test('defaults are llama.cpp\'s (and Hugging Face\'s for beams), every one neutral', () => {
    assert.deepEqual(
      [DEFAULTS.dry_multiplier, DEFAULTS.dry_base, DEFAULTS.dry_allowed_length, DEFAULTS.dry_penalty_last_n, DEFAULTS.dry_sequence_breakers],
      [0, 1.75, 2, -1, ['\n', ':', '"', '*']],
    );
    assert.deepEqual([DEFAULTS.xtc_probability, DEFAULTS.xtc_threshold, DEFAULTS.mirostat, DEFAULTS.mirostat_tau, DEFAULTS.mirostat_eta], [0, 0.1, 0, 5, 0.1]);
    assert.deepEqual([DEFAULTS.dynatemp_range, DEFAULTS.dynatemp_exponent, DEFAULTS.smoothing_factor, DEFAULTS.smoothing_curve, DEFAULTS.top_h], [0, 1, 0, 1, 0]);
    assert.deepEqual([DEFAULTS.num_beams, DEFAULTS.length_penalty, DEFAULTS.early_stopping, DEFAULTS.num_return_sequences, DEFAULTS.penalty_alpha], [1, 1, false, 1, 0]);
    assert.deepEqual([DEFAULTS.do_sample, DEFAULTS.num_beam_groups, DEFAULTS.diversity_penalty], [false, 1, 0]);
  });

  test('out-of-range values: one line naming the flag and what is allowed', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ dry_multiplier: -1 }, '--dry-multiplier must be a number ≥ 0 (0 = off), got -1'],
      [{ dry_base: 0.5 }, '--dry-base must be a number ≥ 1, got 0.5'],
      [{ dry_allowed_length: 1.5 }, '--dry-allowed-length must be an integer ≥ 0, got 1.5'],
      [{ dry_penalty_last_n: -2 }, '--dry-penalty-last-n must be an integer ≥ -1 (-1 = the whole context, 0 = off), got -2'],
      [{ dry_sequence_breakers: [''] }, '--dry-sequence-breaker entry "": must not contain an empty string'],
      [{ xtc_probability: 1.5 }, '--xtc-probability must be in [0, 1] (0 = off), got 1.5'],
      [{ xtc_threshold: -0.1 }, '--xtc-threshold must be in [0, 1] (above 0.5 = off), got -0.1'],
      [{ mirostat: 3 }, '--mirostat must be 0 (off), 1 or 2, got 3'],
      [{ mirostat_tau: -1 }, '--mirostat-tau must be a number ≥ 0 (target surprise, bits), got -1'],
      [{ mirostat_eta: 2 }, '--mirostat-eta must be in [0, 1] (learning rate), got 2'],
      [{ dynatemp_range: -1 }, '--dynatemp-range must be a number ≥ 0 (0 = off), got -1'],
      [{ dynatemp_exponent: 0 }, '--dynatemp-exponent must be a number > 0, got 0'],
      [{ smoothing_factor: -0.5 }, '--smoothing-factor must be a number ≥ 0 (0 = off), got -0.5'],
      [{ smoothing_curve: 0.5 }, '--smoothing-curve must be a number ≥ 1 (1 = quadratic), got 0.5'],
      [{ top_h: 1.2 }, '--top-h must be in [0, 1] (0 = off), got 1.2'],
      [{ num_beams: 0 }, '--num-beams must be an integer from 1 to 64 (1 = no beam search), got 0'],
      [{ num_beams: 65 }, '--num-beams must be an integer from 1 to 64 (1 = no beam search), got 65'],
      [{ length_penalty: 'long' }, '--length-penalty must be a number from -1000 to 1000 (scores are divided by length^L), got "long"'],
      [{ early_stopping: 'sometimes' }, '--early-stopping must be true, false or "never", got "sometimes"'],
      [{ num_return_sequences: 0 }, '--num-return-sequences must be an integer from 1 to 64, got 0'],
      [{ penalty_alpha: 1.5 }, '--penalty-alpha must be in [0, 1] (0 = off), got 1.5'],
    ];
    for (const [input, message] of cases) assert.throws(() => parseSettings(input, cliNaming), userError(message), message);
  });

  test('combinations that make no sense are refused, saying why', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ num_beams: 4, n: 2 }, 'n', '--n must be 1 with beam search, which returns its best beams rather than samples: use --num-return-sequences instead'],
      [{ num_beams: 4, num_return_sequences: 5 }, 'num_return_sequences', '--num-return-sequences (5) must not exceed --num-beams (4)'],
      [{ num_return_sequences: 2 }, 'num_return_sequences', '--num-return-sequences needs beam search (--num-beams ≥ 2); for several samples use --n'],
      [{ num_beams: 4, top_p: 0.9 }, 'top_p', '--top-p cannot be used with --num-beams: beam search ranks beams by the model\'s log-probabilities and draws nothing (for sampled beams set --do-sample)'],
      [{ num_beams: 4, temperature: 0 }, 'temperature', '--temperature cannot be used with --num-beams: beam search ranks beams by the model\'s log-probabilities and draws nothing (for sampled beams set --do-sample)'],
      [{ num_beams: 2, xtc_probability: 0.5 }, 'xtc_probability', '--xtc-probability cannot be used with --num-beams: beam search ranks beams by the model\'s log-probabilities and draws nothing (for sampled beams set --do-sample)'],
      [{ num_beams: 4, penalty_alpha: 0.6, top_k: 4 }, 'penalty_alpha', '--penalty-alpha (contrastive search) cannot run with --num-beams 4: choose one decoder'],
      [{ penalty_alpha: 0.6 }, 'penalty_alpha', '--penalty-alpha (contrastive search) chooses among the --top-k most likely tokens: set --top-k to 2 or more'],
      [{ penalty_alpha: 0.6, top_k: 4, n: 3 }, 'n', '--n must be 1 with contrastive search, which is deterministic: every sample would be the same'],
      [{ penalty_alpha: 0.6, top_k: 4, min_p: 0.1 }, 'min_p', '--min-p cannot be used with --penalty-alpha: contrastive search picks among the top_k candidates deterministically and draws nothing'],
      [{ mirostat: 2, top_k: 40 }, 'top_k', '--top-k cannot be used with --mirostat: mirostat chooses its own truncation after a plain temperature (llama.cpp runs it in place of the other samplers)'],
      [{ mirostat: 1, dynatemp_range: 0.5 }, 'dynatemp_range', '--dynatemp-range cannot be used with --mirostat: mirostat chooses its own truncation after a plain temperature (llama.cpp runs it in place of the other samplers)'],
      [{ mirostat: 1, top_p: 0.9 }, 'top_p', '--top-p cannot be used with --mirostat: mirostat chooses its own truncation after a plain temperature (llama.cpp runs it in place of the other samplers)'],
      [{ do_sample: true }, 'do_sample', '--do-sample applies to beam search (--num-beams ≥ 2: Hugging Face\'s beam sampling); without beams Wander samples unless temperature is 0'],
      [{ num_beams: 4, do_sample: true, xtc_probability: 0.5 }, 'xtc_probability', '--xtc-probability cannot be used with --do-sample: beam sampling runs Hugging Face\'s warpers only (temperature, top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff, top_h)'],
      [{ num_beam_groups: 2 }, 'num_beam_groups', '--num-beam-groups needs beam search: set --num-beams to a multiple of 2'],
      [{ num_beams: 6, num_beam_groups: 4 }, 'num_beam_groups', '--num-beam-groups (4) must divide --num-beams (6) into equal groups'],
      [{ num_beams: 4, num_beam_groups: 2, do_sample: true }, 'num_beam_groups', '--num-beam-groups (diverse beam search) cannot run with --do-sample: Hugging Face\'s group beam search does not sample'],
      [{ num_beams: 4, diversity_penalty: 0.5 }, 'diversity_penalty', '--diversity-penalty acts between beam groups: set --num-beam-groups to 2 or more'],
      [{ num_beams: 4, num_beam_groups: 2 }, 'diversity_penalty', '--diversity-penalty must be above 0 with --num-beam-groups 2: without it every group runs the same search and returns the same beams (Hugging Face refuses it too)'],
      [{ num_beams: 4, do_sample: true, temperature: 0 }, 'temperature', '--temperature 0 cannot be used with --do-sample: beam sampling draws from the warped distribution, which needs a temperature above 0 (Hugging Face refuses 0 too)'],
      [{ mirostat: 2, temperature: 0 }, 'mirostat', '--mirostat samples, but temperature 0 decodes greedily: set a temperature above 0 or leave it off'],
      [{ xtc_probability: 0.5, temperature: 0 }, 'xtc_probability', '--xtc-probability samples, but temperature 0 decodes greedily: set a temperature above 0 or leave it off'],
      [{ dynatemp_range: 0.5, temperature: 0 }, 'dynatemp_range', '--dynatemp-range samples, but temperature 0 decodes greedily: set a temperature above 0 or leave it off'],
    ];
    // As the command line runs them: the flags parsed, then resolved (with no model defaults here).
    for (const [input, field, message] of cases) assert.throws(() => resolveSettings(parseSettings(input, cliNaming), {}), userError(message, field), message);
  });

  test('beam-only settings without beams, and the searches in `next`, are refused rather than ignored', () => {
    assert.throws(() => parseSettings({ length_penalty: 0.5 }, cliNaming), userError('--length-penalty scores finished beams: it needs beam search (--num-beams ≥ 2)', 'length_penalty'));
    assert.throws(() => parseSettings({ early_stopping: true }, cliNaming), userError('--early-stopping decides when beam search stops: it needs beam search (--num-beams ≥ 2)', 'early_stopping'));
    const model = loadModel(DEFAULT_MODEL);
    assert.throws(() => nextTokenDistribution(model, 'And God', { num_beams: 4 }), userError('--num-beams (beam search) decodes whole sequences, not one step of the sampling chain: run it with wander generate', 'num_beams'));
    assert.throws(() => nextTokenDistribution(model, 'And God', { penalty_alpha: 0.6, top_k: 4 }), userError('--penalty-alpha (contrastive search) decodes whole sequences, not one step of the sampling chain: run it with wander generate', 'penalty_alpha'));
  });

  test('a rule that reads a setting a model may give waits for the model when the user left it unset', () => {
    // max_tokens and top_k may come from generation_config.json: parsing alone does not refuse these...
    assert.doesNotThrow(() => parseSettings({ min_new_tokens: 200 }, cliNaming));
    assert.doesNotThrow(() => parseSettings({ penalty_alpha: 0.6 }, cliNaming));
    // ...resolving with the model's values decides.
    assert.equal(resolveSettings({ min_new_tokens: 200 }, { max_tokens: 300 }).settings.min_new_tokens, 200);
    assert.equal(resolveSettings({ penalty_alpha: 0.6 }, { top_k: 50 }).settings.top_k, 50);
    assert.throws(() => resolveSettings({ min_new_tokens: 200 }, {}), userError('--min-new-tokens (200) must not exceed --max-tokens (128)', 'min_new_tokens'));
    assert.throws(() => resolveSettings({ penalty_alpha: 0.6 }, {}), userError('--penalty-alpha (contrastive search) chooses among the --top-k most likely tokens: set --top-k to 2 or more', 'penalty_alpha'));
  });

  test('what goes together is accepted', () => {
    for (const input of [
      { num_beams: 4, num_return_sequences: 4, length_penalty: 0.5, early_stopping: 'never', no_repeat_ngram_size: 3, repetition_penalty: 1.2 },
      { penalty_alpha: 0.6, top_k: 4, repetition_penalty: 1.1 },
      { num_beams: 4, do_sample: true, temperature: 0.7, top_k: 20, top_p: 0.9 },
      { num_beams: 6, num_beam_groups: 3, diversity_penalty: 0.5 },
      { mirostat: 2, mirostat_tau: 3, temperature: 0.8, dry_multiplier: 0.8 },
      { dry_multiplier: 0.8, xtc_probability: 0.5, xtc_threshold: 0.1, top_h: 0.4, smoothing_factor: 0.3, smoothing_curve: 2, min_p: 0.05 },
    ]) assert.doesNotThrow(() => parseSettings(input, cliNaming), JSON.stringify(input));
  });

  test('a model\'s sampling defaults fall back to neutral under a decoder that does not sample, and the sources say so', () => {
    const r = resolveSettings({ num_beams: 4 }, { temperature: 0.6, top_p: 0.9, repetition_penalty: 1.1 });
    assert.deepEqual([r.settings.temperature, r.settings.top_p, r.settings.repetition_penalty], [1, 1, 1.1]);
    assert.deepEqual([r.sources.temperature, r.sources.top_p, r.sources.repetition_penalty], ['default', 'default', 'generation_config.json']);
    // Without a decoder the same model defaults apply as before.
    const plain = resolveSettings({}, { temperature: 0.6, top_p: 0.9 });
    assert.deepEqual([plain.settings.temperature, plain.settings.top_p, plain.sources.top_p], [0.6, 0.9, 'generation_config.json']);
    // Contrastive search keeps the model's top_k (it is its K); mirostat keeps its temperature.
    assert.equal(resolveSettings({ penalty_alpha: 0.6 }, { top_k: 6, top_p: 0.9 }).settings.top_k, 6);
    // A model that does not sample (generation_config temperature 0) gets temperature 1 under beam sampling.
    const b = resolveSettings({ num_beams: 4, do_sample: true }, { temperature: 0 });
    assert.deepEqual([b.settings.temperature, b.sources.temperature], [1, 'default']);
    const m = resolveSettings({ mirostat: 2 }, { temperature: 0.7, top_k: 40 });
    assert.deepEqual([m.settings.temperature, m.settings.top_k, m.sources.top_k], [0.7, 0, 'default']);
  });
});
