import { basename } from 'node:path';
import type { Run } from '../generate/report.js';

function fmtParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

const show = (s: string) => JSON.stringify(s);

/** The human-readable run report printed after the streamed text. */
export function printReport(run: Run, out: NodeJS.WritableStream): void {
  const m = run.model, s = run.settings, u = run.usage, t = run.timings;
  const src = (k: keyof typeof s.sources) => (s.sources[k] === 'flag' ? '' : ` (${s.sources[k]})`);
  const lines: string[] = ['', '── run report ' + '─'.repeat(50)];
  lines.push(`model     ${basename(m.path)}: ${m.architecture} (${m.format}), ${fmtParams(m.parameters)} parameters, context ${m.context_length}, vocab ${m.vocab_size}; ${m.kernels} × ${m.threads} thread${m.threads > 1 ? 's' : ''}`);
  const decoding = s.temperature === 0 ? 'greedy (temperature 0)' : `temperature ${s.temperature}${src('temperature')} · top_k ${s.top_k}${src('top_k')} · top_p ${s.top_p}${src('top_p')}`;
  lines.push(`settings  ${decoding} · seed ${s.seed}${src('seed')} · max_tokens ${s.max_tokens}${src('max_tokens')}${s.stop.length ? ` · stop ${s.stop.map(show).join(', ')}` : ''}`);
  lines.push(`tokens    prompt ${u.prompt_tokens} · generated ${u.completion_tokens} · total ${u.total_tokens}`);
  for (const sample of run.samples) {
    const why = sample.finish_reason === 'error' ? `error: ${sample.error}` : sample.finish_reason === 'stop_sequence' ? `stop_sequence ${show(sample.stop_sequence ?? '')}` : sample.finish_reason;
    lines.push(`finish    ${why}`);
  }
  lines.push(`timings   load ${t.load_ms.toFixed(0)} ms · prompt ${t.prompt_ms.toFixed(1)} ms (${u.prompt_tokens} tokens) · generate ${t.generate_ms.toFixed(1)} ms (${t.tokens_per_second.toFixed(1)} tokens/s)`);
  for (const sample of run.samples) {
    if (!sample.logprobs) continue;
    lines.push('', 'step  token                 logprob   prob     top alternatives');
    sample.logprobs.forEach((lp, i) => {
      const alts = lp.top_logprobs.map((a) => `${show(a.token)} ${Math.exp(a.logprob).toFixed(3)}`).join('  ');
      lines.push(`${String(i).padStart(4)}  ${show(lp.token).padEnd(20)}  ${lp.logprob.toFixed(4).padStart(8)}  ${Math.exp(lp.logprob).toFixed(4)}   ${alts}`);
    });
  }
  out.write(lines.join('\n') + '\n');
}
