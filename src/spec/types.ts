/** The canonical spec: what `lower` + schema defaults + the checker's derived defaults produce. Mirrors schemas/mdr-spec.schema.json. */
export type Activation = "relu" | "gelu" | "silu" | "tanh" | "sigmoid" | "leaky_relu" | "elu" | "identity";

export interface MlpOptions {
  activation: Activation;
  dropout: number;
  layer_norm: boolean;
}

export interface DomainSpec {
  name: string;
  column: string;
  values: string[];
  /** One weight per listed value, by value. */
  weights: Record<string, number>;
  unknown: "error" | "fallback" | "skip";
  fallback?: string;
}

interface CategoricalBase {
  name: string;
  column: string;
  dim: number;
  min_count: number;
  /** Share of training values mapped to the out-of-vocabulary row at random. */
  oov_rate: number;
  hash_buckets?: number;
  range?: [number, number];
  table?: string;
}
export interface CategoricalFeature extends CategoricalBase { kind: "categorical" }
export interface MultiCategoricalFeature extends CategoricalBase {
  kind: "multi_categorical";
  separator: string;
  pooling: "mean" | "sum";
}
export interface NumericFeature {
  kind: "numeric";
  name: string;
  column: string;
  transform: "standard" | "log1p" | "none" | "bucketize";
  /** What a missing cell becomes; `fill` is the constant. */
  missing: "mean" | "zero" | "constant" | "error";
  fill?: number;
  /** Cell texts that mean missing besides "", NaN, NA and null. */
  missing_values: string[];
  boundaries?: number[];
  dim?: number;
}
export type FeatureSpec = CategoricalFeature | MultiCategoricalFeature | NumericFeature;

export interface ExpertPoolSpec extends MlpOptions {
  name: string;
  scope: "shared" | "per_domain" | "routed";
  count: number;
  layers: number[];
  input: string;
}

export interface GateSpec {
  name: string;
  pools: string[];
  per: "domain" | "all";
  type: "softmax" | "topk";
  k?: number;
  topk_order: "after_softmax" | "before_softmax";
  renormalize: boolean;
  noise: number;
  inputs: ("features" | "domain")[];
  domain_dim: number;
  input: string;
  always_on: string[];
  always_on_combine: "mean" | "gate";
  dispatch: "sparse" | "dense";
}

export interface StarSpec extends MlpOptions {
  name: string;
  layers: number[];
  input: string;
  partitioned_norm: boolean;
  aux_layers: number[];
  aux_dim: number;
}

export interface TowerSpec extends MlpOptions {
  name: string;
  per: "domain" | "shared";
  input: string;
  layers: number[];
}

export interface LossSpec {
  bce: number;
  mutual_information: number;
  load_balance: number;
  l2_embedding: number;
  router?: string;
}

export interface TrainSpec {
  optimizer: "adam" | "sgd" | "adagrad";
  lr: number;
  embedding_lr: number;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  batch_size: number;
  epochs: number;
  seed: number;
  /** Steps between mid-epoch checkpoints (0: epoch ends only). */
  checkpoint_every: number;
  early_stopping: { metric: RankingMetric | RetrievalMetric; patience: number };
}

export type RankingMetric = "auc" | "mean_domain_auc" | "logloss";
export type RetrievalMetric = "recall_at_10" | "recall_at_50" | "recall_at_100";

export interface Spec {
  version: 1;
  model: string;
  label: string;
  domain: DomainSpec;
  features: FeatureSpec[];
  experts: ExpertPoolSpec[];
  gates: GateSpec[];
  stars: StarSpec[];
  towers: TowerSpec[];
  loss: LossSpec;
  train: TrainSpec;
}

/** `features` as a component name: the concatenated model input. */
export const FEATURES = "features";

export function isCategorical(f: FeatureSpec): f is CategoricalFeature | MultiCategoricalFeature {
  return f.kind !== "numeric";
}

/** One tower of a retrieval model: its own features and components, in the shape of a ranking model's. */
export interface SideSpec {
  features: FeatureSpec[];
  experts: ExpertPoolSpec[];
  gates: GateSpec[];
  stars: StarSpec[];
  towers: TowerSpec[];
}

export interface ItemSideSpec extends SideSpec {
  /** Column holding each item's key. */
  id: string;
}

export interface EmbeddingSpec {
  dim: number;
  normalize: boolean;
  temperature: number;
  learn_temperature: boolean;
}

export interface RetrievalLossSpec {
  softmax: number;
  logq: boolean;
  /** Extra uniformly sampled negatives per batch. */
  negatives: number;
  mutual_information: number;
  load_balance: number;
  l2_embedding: number;
  router?: string;
}

/** `task: retrieval`: a query tower (raw query columns + domain → embedding) and an item tower (raw item columns → embedding). Mirrors schemas/mdr-retrieval.schema.json. */
export interface RetrievalSpec {
  version: 1;
  model: string;
  task: "retrieval";
  domain: DomainSpec;
  query: SideSpec;
  item: ItemSideSpec;
  embedding: EmbeddingSpec;
  loss: RetrievalLossSpec;
  train: TrainSpec;
}

export type Side = "query" | "item";
export const SIDES: readonly Side[] = ["query", "item"];
