import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { SIZES } from '../train/presets.js';
import { train, TRAIN_DEFAULTS, type TrainProgress } from '../train/trainer.js';
import { numeric } from './sampler-flags.js';

interface TrainFlags {
  corpus: string[]; size: string; out?: string; vocab?: string; tokenizer?: string; steps?: string; batch?: string; lr?: string;
  warmup?: string; weightDecay?: string; clip?: string; valFraction?: string; evalEvery?: string; checkpointEvery?: string;
  seed?: string; resume?: boolean; name?: string; json?: boolean;
}

export function trainCommand(program: Command): void {
  program.command('train')
    .description('train a GPT-2-family model from scratch on text files (BPE tokenizer, AdamW, checkpoints); writes GGUF and a Hugging Face folder')
    .requiredOption('--corpus <files...>', 'text files to train on')
    .option('--size <preset>', `model size: ${Object.entries(SIZES).map(([k, s]) => `${k} (${s.layers}×${s.embd})`).join(', ')}`, 'small')
    .option('--out <dir>', 'output folder (checkpoints, the model, its card)')
    .option('--vocab <N>', `BPE vocabulary size to train (default ${TRAIN_DEFAULTS.vocab})`)
    .option('--tokenizer <file>', 'reuse this tokenizer.json instead of training one (to share a vocabulary)')
    .option('--steps <N>', 'optimizer steps (default: the size\'s)')
    .option('--batch <N>', 'sequences per step (default: the size\'s)')
    .option('--lr <LR>', 'peak learning rate (default: the size\'s)')
    .option('--warmup <N>', 'warm-up steps (default 5% of the steps)')
    .option('--weight-decay <W>', `AdamW weight decay on matrices (default ${TRAIN_DEFAULTS.weightDecay})`)
    .option('--clip <N>', `clip the gradient norm at N; 0 = off (default ${TRAIN_DEFAULTS.clip})`)
    .option('--val-fraction <F>', `share of the corpus held out (default ${TRAIN_DEFAULTS.valFraction})`)
    .option('--eval-every <N>', 'validation loss every N steps (default: 20 times a run)')
    .option('--checkpoint-every <N>', 'checkpoint every N steps (default: 10 times a run)')
    .option('--seed <S>', `seed for initialisation and batches (default ${TRAIN_DEFAULTS.seed})`)
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--name <name>', 'model name (default: the --out folder\'s name)')
    .option('--json', 'print the outcome as JSON')
    .option('--verbose', 'show stack traces for errors')
    .action(async (flags: TrainFlags) => {
      const num = (v: string | undefined, flag: string, lo: number, hi: number, int: boolean): number | undefined => {
        const n = numeric(v);
        if (n === undefined) return undefined;
        if (typeof n !== 'number' || n < lo || n > hi || (int && !Number.isInteger(n))) {
          throw new UserError(`${flag} must be ${int ? 'an integer' : 'a number'} from ${lo} to ${hi}, got ${JSON.stringify(v)}`, flag.slice(2));
        }
        return n;
      };
      if (!flags.out) throw new UserError('--out is required: the folder for checkpoints and the trained model', 'out');
      const tty = process.stderr.isTTY && !flags.json;
      const bar = tty ? new (await import('cli-progress')).SingleBar({ format: '{bar} step {value}/{total} | train {train} | val {val} | {tps} tok/s | ETA {eta_formatted}', stream: process.stderr, etaBuffer: 50 }) : undefined;
      let started = false;
      const onProgress = (p: TrainProgress) => {
        if (!bar) {
          // Without a terminal (logs, nohup): one line per validation.
          if (!flags.json && p.valLoss !== undefined && (p.step === p.steps || p.step % Math.max(1, Math.round(p.steps / 20)) === 0)) {
            const eta = ((p.steps - p.step) * (p.elapsedMs / Math.max(1, p.step))) / 60000;
            process.stderr.write(`step ${p.step}/${p.steps} · train ${p.trainLoss.toFixed(3)} · val ${p.valLoss.toFixed(3)} · ${Math.round(p.tokensPerSecond)} tok/s · ETA ${eta.toFixed(1)} min\n`);
          }
          return;
        }
        const payload = { train: p.trainLoss.toFixed(3), val: p.valLoss?.toFixed(3) ?? '—', tps: Math.round(p.tokensPerSecond) };
        if (!started) { bar.start(p.steps, p.step, payload); started = true; } else bar.update(p.step, payload);
      };
      try {
        const r = train({
          corpus: flags.corpus, out: flags.out, size: flags.size,
          vocab: num(flags.vocab, '--vocab', 257, 65536, true) ?? TRAIN_DEFAULTS.vocab, tokenizer: flags.tokenizer,
          steps: num(flags.steps, '--steps', 1, 1e7, true), batch: num(flags.batch, '--batch', 1, 4096, true), lr: num(flags.lr, '--lr', 0, 1, false),
          warmup: num(flags.warmup, '--warmup', 0, 1e7, true), minLrRatio: TRAIN_DEFAULTS.minLrRatio,
          weightDecay: num(flags.weightDecay, '--weight-decay', 0, 10, false) ?? TRAIN_DEFAULTS.weightDecay,
          clip: num(flags.clip, '--clip', 0, 1e6, false) ?? TRAIN_DEFAULTS.clip,
          valFraction: num(flags.valFraction, '--val-fraction', 0.001, 0.5, false) ?? TRAIN_DEFAULTS.valFraction,
          evalEvery: num(flags.evalEvery, '--eval-every', 1, 1e7, true), evalBatches: TRAIN_DEFAULTS.evalBatches,
          checkpointEvery: num(flags.checkpointEvery, '--checkpoint-every', 1, 1e7, true),
          seed: num(flags.seed, '--seed', 0, 2 ** 31 - 1, true) ?? TRAIN_DEFAULTS.seed, resume: !!flags.resume, name: flags.name,
          command: `wander ${process.argv.slice(2).join(' ')}`,
          onProgress, onLog: (l) => { if (!flags.json) { if (started) bar?.stop(); started = false; process.stderr.write(`${l}\n`); } },
        });
        bar?.stop();
        if (flags.json) process.stdout.write(JSON.stringify({ ...r, elapsedMs: Math.round(r.elapsedMs) }, null, 2) + '\n');
        else {
          process.stdout.write(`${r.parameters.toLocaleString('en-US')} parameters, ${r.steps} steps, ${r.tokensSeen.toLocaleString('en-US')} tokens in ${(r.elapsedMs / 1000).toFixed(1)} s: train loss ${r.trainLoss.toFixed(3)}, validation ${r.valLoss.toFixed(3)} (perplexity ${Math.exp(r.valLoss).toFixed(1)})\n`);
          process.stdout.write(`wrote ${r.files.join(', ')}\n`);
        }
      } finally {
        bar?.stop();
      }
    });
}
