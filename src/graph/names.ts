/**
 * Every name the compiled graphs and the runtime agree on, in one place: the training step's inputs and
 * outputs, checkpoint tensors, and the constants both sides must share.
 */

/**
 * A training step's trainable dense parameters, concatenated in the signature's order [P]: the optimizer
 * updates them (and their slots, `parameters::<slot>`) as one tensor and returns `parameters::new`. The
 * forward pass reads each parameter through its own input, fed as a view of the same memory.
 */
export const DENSE_PARAMETERS = "parameters";

/** Embedding tables (and the domain and bucket tables) start uniform in ±this. */
export const EMBEDDING_INIT_BOUND = 0.05;

/**
 * A training step's batch rows of a host-held table [U, dim]: the graph gathers them from the table (fed
 * whole as `embedding.<table>.table`, with its optimizer slots) at `touched.<table>`; the step returns
 * them and their optimizer state updated (`rows.<table>::new`, `rows.<table>::<slot>::new`).
 */
export const rowsInput = (table: string): string => `rows.${table}`;
/** The host rows of a table a training batch touches [U], int32, ascending. */
export const touchedInput = (table: string): string => `touched.${table}`;
/** Each row's position among its table's batch rows (a categorical field). */
export const indexInput = (feature: string): string => `index.${feature}`;
/** Optimizer state `slot` of a parameter (or of a table's batch rows). */
export const slotName = (param: string, slot: string): string => `${param}::${slot}`;
/** The updated value a training step returns for an input. */
export const updated = (name: string): string => `${name}::new`;
/** One loss term's output (before its weight); `loss` is their weighted sum. */
export const lossTermOutput = (term: string): string => `loss.${term}`;
export const DOMAIN_ID_INPUT = "domain_id";
export const SEED_INPUT = "seed";

/** A full embedding table as the inference model's initializer (and a checkpoint tensor). */
export const embeddingTable = (table: string): string => `embedding.${table}.table`;
/** A full table's optimizer slot `i` in a checkpoint. */
export const embeddingSlot = (table: string, i: number): string => `${embeddingTable(table)}::slot${i}`;
