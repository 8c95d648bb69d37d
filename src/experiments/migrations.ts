/**
 * The results database's schema, one migration per version (`PRAGMA user_version` holds the version
 * a file is at). Migrations are only ever appended: a file written by this version can be opened by
 * every later one, and a file from a later version is refused rather than misread.
 */
export const MIGRATIONS: string[] = [
  // 1: experiments, the models they ran, cells (model × prompt × preset) and their samples.
  `
  CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    spec        TEXT NOT NULL,             -- the experiment as last run (JSON)
    file        TEXT,                      -- the YAML file it came from
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT                       -- set when every active cell has all its samples
  );
  CREATE TABLE models (
    id             INTEGER PRIMARY KEY,
    path           TEXT NOT NULL UNIQUE,   -- the resolved file or folder
    architecture   TEXT NOT NULL,
    family         TEXT NOT NULL,
    format         TEXT NOT NULL,
    parameters     INTEGER NOT NULL,
    vocab_size     INTEGER NOT NULL,
    context_length INTEGER NOT NULL
  );
  CREATE TABLE cells (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,           -- hash of everything that decides the samples
    active        INTEGER NOT NULL,        -- 1 while the experiment's current file has this cell
    position      INTEGER NOT NULL,        -- order in the experiment (models, then prompts, then presets)
    model_spec    TEXT NOT NULL,
    model_label   TEXT NOT NULL,
    model_id      INTEGER REFERENCES models(id),
    prompt        TEXT NOT NULL,
    prompt_label  TEXT NOT NULL,
    chat          INTEGER NOT NULL,
    preset        TEXT NOT NULL,
    settings      TEXT NOT NULL,           -- the preset plus the experiment's max_tokens and stop (JSON)
    resolved      TEXT,                    -- the settings generate() actually used, with their sources (JSON)
    seeds         TEXT NOT NULL,           -- JSON list
    samples       INTEGER NOT NULL,        -- per seed
    UNIQUE (experiment_id, key)
  );
  CREATE TABLE samples (
    id                INTEGER PRIMARY KEY,
    cell_id           INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    seed              INTEGER NOT NULL,
    sample_index      INTEGER NOT NULL,
    text              TEXT NOT NULL,
    token_ids         TEXT NOT NULL,       -- JSON list of generated token ids (EOS included)
    logprobs          TEXT NOT NULL,       -- JSON: natural-log probability of each token under the model
    entropies         TEXT NOT NULL,       -- JSON: entropy (bits) of the model's distribution at each token
    sampled_entropies TEXT NOT NULL,       -- JSON: entropy (bits) of the distribution each token was drawn from
    finish_reason     TEXT NOT NULL,
    stop_sequence     TEXT,
    error             TEXT,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    prompt_ms         REAL NOT NULL,
    elapsed_ms        REAL NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (cell_id, seed, sample_index)
  );
  CREATE INDEX cells_by_experiment ON cells (experiment_id, active, position);
  `,
  // 2: the prompts' human continuations, scored under each model (Table 1's human row). Keyed by the
  // prompt and continuation texts, so editing either scores it afresh and the old row is simply unused.
  `
  CREATE TABLE continuations (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    model_spec    TEXT NOT NULL,
    model_id      INTEGER REFERENCES models(id),
    prompt        TEXT NOT NULL,           -- the prompt as the file gives it
    chat          INTEGER NOT NULL,        -- 1: scored after the model's chat template applied to the prompt
    text          TEXT NOT NULL,           -- its human continuation
    token_ids     TEXT NOT NULL,           -- JSON: the continuation's tokens, as the model reads them after the prompt
    logprobs      TEXT NOT NULL,           -- JSON: natural-log probability of each, teacher-forced after the prompt
    entropies     TEXT NOT NULL,           -- JSON: entropy (bits) of the model's distribution at each
    prompt_tokens INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (experiment_id, model_spec, prompt, chat, text)
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
