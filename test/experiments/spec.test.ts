import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { planCells } from '../../src/experiments/plan.js';
import { applyOverrides, loadExperiment, parseExperiment } from '../../src/experiments/spec.js';
import { ROOT, userError } from '../helpers.js';

const ISSUE_FORM = `name: eclipse
models: [path/to/model.gguf]        # any --model spec
prompts: ["Why do eclipses happen?"]
presets:
  greedy: { temperature: 0 }
  low:    { temperature: 0.2, top_p: 0.9, top_k: 50 }
  high:   { temperature: 0.9, top_p: 0.95, top_k: 100 }
samples: 16        # per cell (model × prompt × preset)
seed: 1            # sample i of a cell uses the sampling issue's (seed, i) stream
max_tokens: 64
`;

describe('experiment files', () => {
  it('reads the documented form', () => {
    const spec = parseExperiment(ISSUE_FORM, 'eclipse.yaml');
    assert.deepEqual(spec, {
      name: 'eclipse',
      models: [{ spec: 'path/to/model.gguf', label: 'model.gguf' }],
      prompts: [{ text: 'Why do eclipses happen?', label: 'prompt 1', chat: false }],
      presets: [
        { name: 'greedy', settings: { temperature: 0 } },
        { name: 'low', settings: { temperature: 0.2, top_p: 0.9, top_k: 50 } },
        { name: 'high', settings: { temperature: 0.9, top_p: 0.95, top_k: 100 } },
      ],
      samples: 16, seeds: [1], max_tokens: 64, stop: [],
    });
  });

  it('plans one cell per model × prompt × preset, keyed by what decides the samples', () => {
    const spec = parseExperiment(ISSUE_FORM);
    const cells = planCells(spec);
    assert.deepEqual(cells.map((c) => c.preset), ['greedy', 'low', 'high']);
    assert.deepEqual(cells[1]!.settings, { max_tokens: 64, temperature: 0.2, top_p: 0.9, top_k: 50 });
    // More samples or seeds extend a cell; a changed preset is a new one; key order in the file does not matter.
    const more = planCells({ ...spec, samples: 32, seeds: [1, 2] });
    assert.deepEqual(more.map((c) => c.key), cells.map((c) => c.key));
    const reordered = planCells(parseExperiment(ISSUE_FORM.replace('{ temperature: 0.2, top_p: 0.9, top_k: 50 }', '{ top_k: 50, top_p: 0.9, temperature: 0.2 }')));
    assert.equal(reordered[1]!.key, cells[1]!.key);
    const changed = planCells(parseExperiment(ISSUE_FORM.replace('top_k: 50 }', 'top_k: 40 }')));
    assert.notEqual(changed[1]!.key, cells[1]!.key);
    assert.equal(changed[0]!.key, cells[0]!.key);
  });

  it('names the file, line, path and what is allowed in every error', () => {
    const bad = (from: string, to: string) => () => parseExperiment(ISSUE_FORM.replace(from, to), 'eclipse.yaml');
    assert.throws(bad('top_p: 0.95', 'top_p: 1.5'), userError('eclipse.yaml:7: presets.high.top_p must be in (0, 1] (1 = off), got 1.5', 'presets'));
    assert.throws(bad('top_k: 50', 'top_k: fifty'), userError('eclipse.yaml:6: presets.low.top_k must be an integer ≥ 0 (0 = off), got "fifty"', 'presets'));
    assert.throws(bad('{ temperature: 0 }', '{ temp: 0 }'), userError('eclipse.yaml:5: presets.greedy.temp is not a setting (allowed: temperature, top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff, top_n_sigma, repetition_penalty, frequency_penalty, presence_penalty, penalty_window, no_repeat_ngram_size, logit_bias, banned_strings, min_new_tokens, min_tokens_to_keep, dry_multiplier, dry_base, dry_allowed_length, dry_penalty_last_n, dry_sequence_breakers, xtc_probability, xtc_threshold, mirostat, mirostat_tau, mirostat_eta, dynatemp_range, dynatemp_exponent, smoothing_factor, smoothing_curve, top_h, num_beams, length_penalty, early_stopping, num_return_sequences, do_sample, num_beam_groups, diversity_penalty, penalty_alpha, chain, max_tokens, stop, ablate, noise, patch_from)', 'presets'));
    assert.throws(bad('{ temperature: 0 }', '{ temperature: 0, seed: 3 }'), userError('eclipse.yaml:5: presets.greedy.seed is not a preset setting: set seed or seeds at the top level of the file', 'presets'));
    assert.throws(bad('samples: 16', 'sample: 16'), userError('eclipse.yaml:8: sample is not a field (allowed: name, description, models, prompts, presets, samples, seed, seeds, max_tokens, stop, chat, max_batch_size, count, view)', 'sample'));
    assert.throws(bad('samples: 16', 'samples: 0'), userError('eclipse.yaml:8: samples must be an integer from 1 to 100000, got 0', 'samples'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: []'), userError('eclipse.yaml:2: models must list at least one model, got []', 'models'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: [3]'), userError('eclipse.yaml:2: models[0] must be a model spec (a .gguf file, a model folder, ladder:<size>, hf:<owner>/<repo>, ollama:<name>, openai:URL[#ID]) or { model, label, endpoints }, got 3', 'models'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: [{ model: a.gguf, endpoints: [http://b/v1] }]'), userError('eclipse.yaml:2: models[0].endpoints are for openai: models (a server and the others serving the same model)', 'models'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: [{ model: "openai:http://a/v1", endpoints: [] }]'), userError('eclipse.yaml:2: models[0].endpoints must list at least one server URL, got []', 'models'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: [{ model: "openai:http://a/v1", urls: [] }]'), userError('eclipse.yaml:2: models[0].urls is not a field (allowed: model, label, endpoints)', 'models'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: [a.gguf, { model: a.gguf, label: again }]'), userError('eclipse.yaml:2: models[1] repeats the model "a.gguf": list each model once', 'models'));
    assert.throws(bad('name: eclipse', 'name: "two words"'), userError('eclipse.yaml:1: name must be a name of letters, digits, ".", "_" or "-" (at most 100), got "two words"', 'name'));
    assert.throws(bad('name: eclipse\n', ''), userError('eclipse.yaml:1: is missing name (the fields are name, description, models, prompts, presets, samples, seed, seeds, max_tokens, stop, chat, max_batch_size, count, view)', 'file'));
    assert.throws(bad('seed: 1 ', 'seeds: [1, 2]\nseed: 1 '), userError('eclipse.yaml:9: seeds and seed are both set: give one (seed: N, or seeds: [N, …])', 'seeds'));
    // A field of the wrong type is named as wrong, not as missing.
    assert.throws(bad('samples: 16', 'samples: "many"'), userError('eclipse.yaml:8: samples must be an integer from 1 to 100000, got "many"', 'samples'));
    assert.throws(bad('models: [path/to/model.gguf]', 'models: path/to/model.gguf'), userError('eclipse.yaml:2: models must be a list of model specs, got "path/to/model.gguf"', 'models'));
    assert.throws(bad('presets:', 'presets: ['), userError('eclipse.yaml:6: not valid YAML: Missing , between flow sequence items', 'file'));
    assert.throws(() => loadExperiment(join(ROOT, 'experiments', 'nope.yaml')), userError(`${join(ROOT, 'experiments', 'nope.yaml')}: no such experiment file`, 'file'));
  });

  it('reads the strings to count, checked like every other field', () => {
    const spec = parseExperiment(`${ISSUE_FORM}count: [",", " Caesar", Cleopatra]\n`, 'eclipse.yaml');
    assert.deepEqual(spec.count, [',', ' Caesar', 'Cleopatra']);
    assert.equal('count' in parseExperiment(ISSUE_FORM), false);
    // Counting is done by the report: it changes neither the cells nor their keys.
    assert.deepEqual(planCells(spec), planCells(parseExperiment(ISSUE_FORM)));
    const bad = (count: string) => () => parseExperiment(`${ISSUE_FORM}count: ${count}\n`, 'eclipse.yaml');
    assert.throws(bad('[",", ""]'), userError('eclipse.yaml:11: count[1] must be a non-empty string, got ""', 'count'));
    assert.throws(bad('[",", 3]'), userError('eclipse.yaml:11: count[1] must be a non-empty string, got 3', 'count'));
    assert.throws(bad('[]'), userError('eclipse.yaml:11: count must list at least one string, got []', 'count'));
    assert.throws(bad('","'), userError('eclipse.yaml:11: count must be a list of strings, such as [",", "Cleopatra"], got ","', 'count'));
    assert.throws(bad('[a, b, a]'), userError('eclipse.yaml:11: count[2] repeats "a": list each string once', 'count'));
    assert.throws(bad('\n  - a\n  - b\n  - b'), userError('eclipse.yaml:14: count[2] repeats "b": list each string once', 'count'));
    assert.throws(bad(`[${Array.from({ length: 33 }, (_, i) => `s${i}`).join(', ')}]`), (e: unknown) => (e as Error).message.startsWith('eclipse.yaml:11: count takes at most 32 strings, got ["s0",'));
    assert.equal(parseExperiment(`${ISSUE_FORM}count: [${Array.from({ length: 32 }, (_, i) => `s${i}`).join(', ')}]\n`).count!.length, 32);
    assert.throws(() => parseExperiment(`${ISSUE_FORM}counts: [","]\n`, 'eclipse.yaml'), userError('eclipse.yaml:11: counts is not a field (allowed: name, description, models, prompts, presets, samples, seed, seeds, max_tokens, stop, chat, max_batch_size, count, view)', 'counts'));
  });

  it('applies command-line overrides, validated', () => {
    const spec = parseExperiment(ISSUE_FORM.replace('prompts: ["Why do eclipses happen?"]', 'prompts: ["Why do eclipses happen?"]\nchat: true'));
    const o = applyOverrides(spec, { models: ['a.gguf', 'b.gguf'], samples: 2, max_tokens: 8, chat: false });
    assert.deepEqual(o.models.map((m) => m.spec), ['a.gguf', 'b.gguf']);
    // Reports name a model by its file, or by the whole spec where two files share a name.
    assert.deepEqual(applyOverrides(spec, { models: ['x/m.gguf', 'y/m.gguf', 'z/n.gguf', 'hf:o/r'] }).models.map((m) => m.label), ['x/m.gguf', 'y/m.gguf', 'n.gguf', 'hf:o/r']);
    assert.equal(o.samples, 2);
    assert.equal(o.max_tokens, 8);
    assert.deepEqual(o.prompts.map((p) => p.chat), [false]);
    assert.equal(applyOverrides(spec, {}).prompts[0]!.chat, true);
    assert.throws(() => applyOverrides(spec, { samples: 0 }), userError('--samples must be an integer from 1 to 100000, got 0', 'samples'));
  });

  it('ships examples that all validate', () => {
    const dir = join(ROOT, 'experiments');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, ['comma-bias.yaml', 'degeneration-stories.yaml', 'degeneration.yaml', 'eclipse.yaml', 'model-size-ladder.yaml', 'model-size.yaml', 'random-figure.yaml', 'stories.yaml', 'temperature-ladder.yaml']);
    const specs = Object.fromEntries(files.map((f) => [f, loadExperiment(join(dir, f))]));
    assert.deepEqual(specs['eclipse.yaml']!.presets.map((p) => p.settings), [
      { top_p: 1, top_k: 1, temperature: 0 }, { top_p: 0.9, top_k: 50, temperature: 0.2 }, { top_p: 0.95, top_k: 100, temperature: 0.9 },
    ]);
    assert.deepEqual(specs['temperature-ladder.yaml']!.presets.map((p) => p.settings.temperature), [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5]);
    assert.equal(specs['temperature-ladder.yaml']!.samples, 32);
    assert.equal(specs['random-figure.yaml']!.prompts.length, 4);
    assert.ok(specs['model-size.yaml']!.models.length >= 3);
    // The notes' style bias: the comma boosted, and banned, against no bias at all.
    assert.deepEqual(specs['comma-bias.yaml']!.presets.map((p) => p.settings.logit_bias), [undefined, [{ text: ',', bias: 2 }], [{ text: ',', bias: 5 }], [{ text: ',', bias: '-inf' }]]);
    assert.equal(specs['comma-bias.yaml']!.count![0], ',');
    // Table 1 of Holtzman et al.: the paper's decoders and five more, once per context, on held-out passages
    // with their continuations (the ladder) and on story openings without (stories260K).
    const degeneration = specs['degeneration.yaml']!, stories = specs['degeneration-stories.yaml']!;
    const presets = ['greedy', 'beam4', 'beam16', 'pure', 't0.9', 'top_k40', 'top_k640', 'top_k40_t0.7', 'nucleus0.95', 'min_p0.1', 'typical0.95', 'top_nsigma1', 'dry', 'xtc'];
    for (const s of [degeneration, stories]) {
      assert.deepEqual([s.view, s.samples, s.seeds, s.presets.map((p) => p.name)], ['degeneration', 1, [1], presets]);
    }
    assert.deepEqual(degeneration.presets.find((p) => p.name === 'dry')!.settings, { dry_multiplier: 0.8, dry_base: 1.75, dry_allowed_length: 2 });
    assert.deepEqual(degeneration.presets.find((p) => p.name === 'xtc')!.settings, { xtc_probability: 0.5, xtc_threshold: 0.1 });
    assert.deepEqual(degeneration.models.map((m) => m.spec), ['ladder:small', 'ladder:medium', 'ladder:large']);
    assert.equal(degeneration.prompts.length, 30);
    assert.ok(degeneration.prompts.every((p) => p.continuation !== undefined && p.continuation.startsWith(' ')));
    assert.equal(degeneration.max_tokens, 96);
    assert.equal(stories.prompts.length, 30);
    assert.ok(stories.prompts.every((p) => p.continuation === undefined));
  });
});
