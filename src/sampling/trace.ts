/** What the chain did at one step, for the top candidates by raw probability. */
export interface TraceCandidate {
  token_id: number;
  token: string;
  /** Raw probability: the model's distribution at temperature 1, before any stage. */
  prob: number;
  /** Probability after each stage of the chain (same order as StepTrace.stages); 0 once removed. */
  stage_probs: number[];
  /** Probability in the distribution actually drawn from (0 when removed). */
  final_prob: number;
  /** The first stage that removed the token, or null when it survived. */
  removed_by: string | null;
}

export interface StepTrace {
  /** The active stages, in the order they ran. */
  stages: string[];
  greedy: boolean;
  candidates: TraceCandidate[];
  chosen: { token_id: number; token: string; rank: number; prob: number; final_prob: number };
  /** Entropy in bits of the raw distribution and of the distribution drawn from. */
  entropy_bits: number;
  final_entropy_bits: number;
  /** How many tokens survived the chain, and how much raw probability they hold. */
  kept_count: number;
  kept_mass: number;
  /**
   * Mirostat's μ (bits: the largest surprise it lets through) when this step started and after the
   * chosen token's surprise moved it; present only when mirostat runs.
   */
  mirostat_mu?: { before: number; after: number };
}
