// Estimated cost of a provider call from its usage and the `prices:` table (per million tokens,
// model name globs, first match wins). Pure; used by moat-policy budgets and moat-telemetry.
import { globMatch } from '../logic/glob';

export interface ModelPrice {
  input: number;
  output: number;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** The price entry for a model: an exact key first, then the first glob that fits. */
export function priceFor(table: PriceTable, model: string | undefined): ModelPrice | undefined {
  if (!model) return undefined;
  if (Object.prototype.hasOwnProperty.call(table, model)) return table[model];
  const key = Object.keys(table).find((glob) => globMatch(glob, model));
  return key === undefined ? undefined : table[key];
}

/** Cost of one call, or undefined when the model has no price (never guessed as zero). */
export function costOf(
  table: PriceTable,
  model: string | undefined,
  inputTokens = 0,
  outputTokens = 0,
): number | undefined {
  const price = priceFor(table, model);
  if (!price) return undefined;
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}
