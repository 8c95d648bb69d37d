import { basename } from 'node:path';
import type { BeamTraceStep, ContrastiveTraceStep, ModelInfo, Run, Sample } from '../generate/report.js';
import type { Settings } from '../generate/settings.js';
import type { StepTrace } from '../sampling/trace.js';
import { fmtParams, pad, prob, showToken } from './format.js';

type Sources = Run['settings']['sources'];

/** The settings that shape decoding, each with where it came from when that was not a flag. */
export function describeSettings(s: Settings, sources: Sources, stages: string[], generation = true): string {
  const src = (k: keyof Settings) => (sources[k] === 'flag' ? '' : ` (${sources[k]})`);
  // Runs stored before a setting existed lack it: they ran without it.
  const beams = (s.num_beams ?? 1) > 1, contrastive = (s.penalty_alpha ?? 0) > 0;
  const sampledBeams = beams && s.do_sample === true, groups = beams && (s.num_beam_groups ?? 1) > 1;
  const beamRules = `length_penalty ${s.length_penalty}, early_stopping ${String(s.early_stopping)}${s.num_return_sequences > 1 ? `, ${s.num_return_sequences} returned` : ''}`;
  const parts: string[] = [
    groups ? `diverse beam search: ${s.num_beams} beams, ${s.num_beam_groups} groups, diversity_penalty ${s.diversity_penalty}, ${beamRules}`
    : sampledBeams ? `beam sampling: ${s.num_beams} beams, ${beamRules}`
    : beams ? `beam search: ${s.num_beams} beams, ${beamRules}`
    : contrastive ? `contrastive search: penalty_alpha ${s.penalty_alpha}, top_k ${s.top_k} candidates`
    : s.temperature === 0 ? 'greedy (temperature 0)' : `temperature ${s.temperature}${src('temperature')}`,
  ];
  // Beam sampling draws from each beam's distribution after the temperature, as sampling does.
  if (sampledBeams) parts.push(`temperature ${s.temperature}${src('temperature')}`);
  const shown: [keyof Settings, boolean][] = [
    ['top_k', s.top_k > 0 && !contrastive], ['top_p', s.top_p < 1], ['min_p', s.min_p > 0], ['typical_p', s.typical_p < 1], ['epsilon_cutoff', s.epsilon_cutoff > 0],
    ['eta_cutoff', s.eta_cutoff > 0], ['top_n_sigma', s.top_n_sigma > 0], ['repetition_penalty', s.repetition_penalty !== 1],
    ['frequency_penalty', s.frequency_penalty !== 0], ['presence_penalty', s.presence_penalty !== 0], ['penalty_window', s.penalty_window > 0],
    ['no_repeat_ngram_size', s.no_repeat_ngram_size > 0], ['min_new_tokens', s.min_new_tokens > 0], ['min_tokens_to_keep', s.min_tokens_to_keep > 1],
    ['dry_multiplier', s.dry_multiplier > 0], ['dry_base', s.dry_multiplier > 0], ['dry_allowed_length', s.dry_multiplier > 0], ['dry_penalty_last_n', s.dry_multiplier > 0],
    ['xtc_probability', s.xtc_probability > 0], ['xtc_threshold', s.xtc_probability > 0],
    ['mirostat', s.mirostat > 0], ['mirostat_tau', s.mirostat > 0], ['mirostat_eta', s.mirostat > 0],
    ['dynatemp_range', s.dynatemp_range > 0], ['dynatemp_exponent', s.dynatemp_range > 0],
    ['smoothing_factor', s.smoothing_factor > 0], ['smoothing_curve', s.smoothing_factor > 0], ['top_h', s.top_h > 0],
  ];
  for (const [k, on] of shown) if (on) parts.push(`${k} ${String(s[k])}${src(k)}`);
  if (s.logit_bias.length) parts.push(`bias ${s.logit_bias.map((b) => `${b.text !== undefined ? showToken(b.text) : `#${b.token_id}`}=${b.bias}`).join(', ')}`);
  if (s.banned_strings.length) parts.push(`ban ${s.banned_strings.map(showToken).join(', ')}`);
  if (s.dry_multiplier > 0) parts.push(`dry_sequence_breakers ${s.dry_sequence_breakers.map(showToken).join(', ')}`);
  if (s.ablate.length) parts.push(`ablate ${s.ablate.join(', ')}`);
  if (s.noise.length) parts.push(`noise ${s.noise.join('; ')}`);
  if (s.patch_from.length) parts.push(`patch_from ${s.patch_from.join(', ')}`);
  // Beam and contrastive search draw nothing (beam sampling does): their seed only matters to noise interventions.
  if (!(beams || contrastive) || sampledBeams || s.noise.length) parts.push(`seed ${s.seed}${src('seed')}`);
  if (generation) {
    parts.push(`max_tokens ${s.max_tokens}${src('max_tokens')}`);
    if (s.stop.length) parts.push(`stop ${s.stop.map(showToken).join(', ')}`);
    if (s.n > 1) parts.push(`n ${s.n} (batches of ${Math.min(s.n, s.max_batch_size)})`);
  }
  const off = beams || contrastive ? 'no logit processors: the model\'s own log-probabilities' : 'nothing truncated: the model\'s own distribution';
  return `${parts.join(' · ')}\nchain     ${typeof s.chain === 'string' ? s.chain : 'custom'}: ${stages.length ? stages.join(' → ') : s.temperature === 0 ? 'argmax' : off}`;
}

/**
 * Each sample beside the same sample without the interventions (same seed): the text they share, then
 * ⟦ where they first differ, and how each goes on.
 */
export function printComparison(run: Run, out: NodeJS.WritableStream): void {
  const clean = new Map(run.clean!.samples.map((s) => [s.index, s]));
  const lines: string[] = [];
  for (const s of run.samples) {
    const c = clean.get(s.index)!;
    let at = 0;
    while (at < s.token_ids.length && at < c.token_ids.length && s.token_ids[at] === c.token_ids[at]) at++;
    const same = at === s.token_ids.length && at === c.token_ids.length;
    const shared = sharedPrefix(s.text, c.text);
    // Newlines shown as ⏎, so the two texts stay one line each and line up.
    const mark = (text: string) => (same ? text : `${text.slice(0, shared)}⟦${text.slice(shared)}`).replaceAll('\n', '⏎');
    lines.push(`── sample ${s.index}: ${same ? 'the same with and without the interventions' : `first differs at generated token ${at} (marked ⟦)`}`,
      `intervened  ${run.prompt.text.replaceAll('\n', '⏎')}${mark(s.text)}`, `clean       ${run.prompt.text.replaceAll('\n', '⏎')}${mark(c.text)}`);
  }
  out.write(lines.join('\n') + '\n');
}

function sharedPrefix(a: string, b: string): number {
  const x = Array.from(a), y = Array.from(b);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return x.slice(0, i).join('').length;
}

/** One sample, printed whole (used when several samples run). */
export function printSample(s: Sample, prompt: string, out: NodeJS.WritableStream): void {
  const why = s.finish_reason === 'stop_sequence' ? `stop_sequence ${showToken(s.stop_sequence ?? '')}` : s.finish_reason === 'error' ? `error: ${s.error}` : s.finish_reason;
  // A returned beam is ranked by its score; index 0 is the best.
  const label = s.score === undefined ? `sample ${s.index}` : `beam ${s.index}${s.group === undefined ? '' : ` (group ${s.group})`} · score ${s.score.toFixed(4)} (sum of log-probs ${s.sum_logprobs!.toFixed(4)})`;
  out.write(`── ${label} · ${s.token_ids.length} tokens · ${why}\n${prompt}${s.text}\n`);
}

/** The model in one line: the file chosen, architecture, format, size, context, vocabulary. */
export function describeModel(m: ModelInfo): string {
  return `${basename(m.path)}: ${m.architecture} (${m.format}), ${fmtParams(m.parameters)} parameters, context ${m.context_length}, vocab ${m.vocab_size}`;
}

/** The human-readable run report printed after the text. */
export function printReport(run: Run, out: NodeJS.WritableStream): void {
  const m = run.model, s = run.settings, u = run.usage, t = run.timings;
  const lines: string[] = ['', '── run report ' + '─'.repeat(50)];
  const b = run.backend;
  lines.push(b?.kind === 'llama.cpp'
    ? `model     ${describeModel(m)}; run by ${b.version ?? 'llama.cpp'} × ${m.threads} thread${m.threads > 1 ? 's' : ''}, tokens chosen by Wander's chain`
    : b && b.kind !== 'wander'
    ? `model     ${b.name}, sampled by the server (${b.kind} backend${b.version ? `, ${b.version}` : ''})`
    : `model     ${describeModel(m)}; ${m.kernels} × ${m.threads} thread${m.threads > 1 ? 's' : ''}${m.kv_cache === 'f16' ? '; f16 KV cache' : ''}`);
  lines.push(`settings  ${describeSettings(s, s.sources, s.stages)}`);
  for (const i of run.ignored ?? []) lines.push(`ignored   the server ignored ${i.setting} in ${i.samples} of ${run.samples.length} sample${run.samples.length > 1 ? 's' : ''} (${i.evidence})`);
  if (s.resolved_bias) lines.push(`bias      ${s.resolved_bias.map((b) => `${showToken(b.token)} (#${b.token_id}) ${b.bias}`).join(', ')}`);
  lines.push(`tokens    prompt ${u.prompt_tokens} · generated ${u.completion_tokens} · total ${u.total_tokens}`);
  if (run.samples.length === 1) {
    const sample = run.samples[0]!;
    const why = sample.finish_reason === 'error' ? `error: ${sample.error}` : sample.finish_reason === 'stop_sequence' ? `stop_sequence ${showToken(sample.stop_sequence ?? '')}` : sample.finish_reason;
    lines.push(`finish    ${why}`);
    if (sample.score !== undefined) lines.push(`score     ${sample.score.toFixed(4)}: sum of log-probs ${sample.sum_logprobs!.toFixed(4)} / ${sample.token_ids.length} tokens^${s.length_penalty}`);
  } else {
    const reasons = Object.entries(run.summary.finish_reasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(' · ');
    lines.push(`samples   ${run.summary.samples} samples, ${run.summary.distinct_texts} distinct · finish: ${reasons}`);
  }
  lines.push(`timings   load ${t.load_ms.toFixed(0)} ms · prompt ${t.prompt_ms.toFixed(1)} ms (${u.prompt_tokens} tokens) · generate ${t.generate_ms.toFixed(1)} ms (${t.tokens_per_second.toFixed(1)} tokens/s)`);
  if (run.beam_trace) lines.push('', ...beamTree(run.beam_trace));
  if (run.contrastive_trace) lines.push('', ...contrastiveTable(run.contrastive_trace, s.penalty_alpha));
  for (const sample of run.samples) {
    if (sample.trace) lines.push('', ...traceTable(sample, run.samples.length > 1));
    if (!sample.logprobs) continue;
    lines.push('', `${run.samples.length > 1 ? `sample ${sample.index}: ` : ''}step  token                 logprob   prob     top alternatives`);
    sample.logprobs.forEach((lp, i) => {
      const alts = lp.top_logprobs.map((a) => `${showToken(a.token)} ${Math.exp(a.logprob).toFixed(3)}`).join('  ');
      lines.push(`${String(i).padStart(4)}  ${pad(showToken(lp.token), 20)}  ${lp.logprob.toFixed(4).padStart(8)}  ${Math.exp(lp.logprob).toFixed(4)}   ${alts}`);
    });
  }
  out.write(lines.join('\n') + '\n');
}

/**
 * Beam search, step by step: each beam kept (best first) as #i ← #parent, the token it added and its
 * cumulative log-prob; each hypothesis that finished and entered the finished set, with its score.
 * With beam groups, gN marks where group N's beams start, and which group a hypothesis finished in.
 */
function beamTree(trace: BeamTraceStep[]): string[] {
  const grouped = trace.some((st) => [...st.beams, ...st.finished].some((b) => b.group !== undefined));
  const rows = [`beam trace: each step's beams, best first${grouped ? ' within each group gN' : ''}: #beam ← #parent token (cumulative log-prob); ✓ finished (score)`];
  const mark = (group: number | undefined) => (group === undefined ? '' : `g${group} `);
  for (const st of trace) {
    const kept = st.beams.map((b, i) => `${b.group !== st.beams[i - 1]?.group ? mark(b.group) : ''}#${i} ← #${b.parent} ${showToken(b.token)} (${b.sum_logprobs.toFixed(3)})`).join('  ');
    rows.push(`${String(st.step).padStart(4)}  ${kept || '(no beam runs on)'}`);
    for (const f of st.finished) rows.push(`      ✓ ${mark(f.group)}#${f.parent} ${showToken(f.token)} ${f.finish_reason} (${f.sum_logprobs.toFixed(3)}, score ${f.score.toFixed(4)})`);
  }
  return rows;
}

/** Contrastive search, step by step: every candidate's probability, largest similarity to earlier states, and score. */
function contrastiveTable(trace: ContrastiveTraceStep[], alpha: number): string[] {
  const rows = [`contrastive trace: score = (1 − ${alpha})·p − ${alpha}·max similarity; ▶ chosen`, 'step  candidate            p        max sim   score'];
  for (const st of trace) {
    st.candidates.forEach((c, i) => {
      const mark = c.token_id === st.chosen ? '▶' : ' ';
      rows.push(`${i === 0 ? String(st.step).padStart(4) : '    '}  ${mark}${pad(showToken(c.token), 18)}  ${prob(c.prob)}  ${c.max_similarity.toFixed(4).padStart(7)}  ${c.score.toFixed(4).padStart(7)}`);
    });
  }
  return rows;
}

/** The compact per-token trace: what was chosen, from how much, and what the chain did to the leaders. */
function traceTable(sample: Sample, label: boolean): string[] {
  const trace = sample.trace!;
  const rows = [`${label ? `sample ${sample.index} ` : ''}trace: ${trace[0]?.stages.join(' → ') || 'no stages'}`,
    `step  chosen               rank  p raw   p final  H bits raw→final  kept   mass    ${trace[0]?.mirostat_mu ? 'mirostat μ       ' : ''}leaders: p raw → final (✗ removed by)`];
  trace.forEach((st: StepTrace, i) => {
    const leaders = st.candidates.slice(0, 4).map((c) => `${showToken(c.token)} ${c.prob.toFixed(2)}→${c.removed_by ? `✗${c.removed_by}` : c.final_prob.toFixed(2)}`).join('  ');
    // Mirostat's running target: μ before this step's draw → after its update.
    const mu = st.mirostat_mu ? `${st.mirostat_mu.before.toFixed(3).padStart(6)} → ${st.mirostat_mu.after.toFixed(3).padEnd(6)}   ` : '';
    rows.push(`${String(i).padStart(4)}  ${pad(showToken(st.chosen.token), 20)} ${String(st.chosen.rank).padStart(4)}  ${prob(st.chosen.prob)}  ${prob(st.chosen.final_prob)}   ${st.entropy_bits.toFixed(2).padStart(5)} → ${st.final_entropy_bits.toFixed(2).padEnd(5)}    ${String(st.kept_count).padStart(5)}  ${st.kept_mass.toFixed(3)}   ${mu}${leaders}`);
  });
  return rows;
}
