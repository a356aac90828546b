// Estimated cost of a provider call from its usage and the `prices:` table (per million tokens,
// model name globs, first match wins). Pure; used by moat-policy budgets and moat-telemetry.
import { globMatch } from '../logic/glob';

export interface ModelPrice {
  input: number;
  output: number;
  /** Prompt-cache writes and reads per million tokens; defaults by provider in cachePrices. */
  cache_write?: number;
  cache_read?: number;
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

// The providers' own ratios to the input price when prices: gives none: Anthropic's 5-minute cache writes cost 1.25x
// and reads 0.1x; OpenAI charges nothing extra for a write and (for most models) half for a read.
const CACHE_RATIOS: Readonly<Record<string, { write: number; read: number }>> = {
  'anthropic-messages': { write: 1.25, read: 0.1 },
  'openai-chat': { write: 1, read: 0.5 },
  'openai-responses': { write: 1, read: 0.5 },
};

/** Per million tokens: what a cache write and a cache read of this model cost; undefined when it has no price. */
export function cachePrices(
  table: PriceTable,
  model: string | undefined,
  adapter: string,
): { write: number; read: number } | undefined {
  const price = priceFor(table, model);
  if (!price) return undefined;
  const ratio = CACHE_RATIOS[adapter] ?? CACHE_RATIOS['anthropic-messages'];
  return { write: price.cache_write ?? price.input * ratio.write, read: price.cache_read ?? price.input * ratio.read };
}
