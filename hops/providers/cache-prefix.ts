// The prompt-cache guard's fact: a salted hash of the part of a provider request the provider can cache (its prefix),
// recorded at every boundary, so a hop that changes it (and so busts the provider's prompt cache) is named. Pure: it
// reads the body the adapter already parsed and hashes the prefix's JSON, never the prompt text into an event.
//
// What counts as the prefix:
// - Anthropic Messages: tools, then system, then messages, up to and including the block that carries the last
//   `cache_control` breakpoint (what the provider caches). With no breakpoint: tools and system, the part a client
//   marks for caching and the part a rewriting hop most often changes.
// - OpenAI chat completions: tools, then every message but the last (the new turn): the prefix the provider caches
//   by itself is what repeats from the previous request.
// - OpenAI responses: tools, instructions, then every input item but the last.
// The model is left out (a changed model shows in tap's body diff); whitespace and the JSON's spelling are left out
// too (the parsed body is hashed), key order is kept.
// `any`: providers' JSON bodies are read as they come.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { createHmac } from 'node:crypto';
import type { AdapterName } from './facts';

export type PrefixBasis = 'cache_control' | 'tools+system' | 'all_but_last';

export interface CachePrefix {
  /** HMAC-SHA256 of the prefix's JSON with the chain's salt, first 16 hex digits. */
  hash: string;
  basis: PrefixBasis;
}

const hasBreakpoint = (v: any): boolean => !!v && typeof v === 'object' && v.cache_control != null;
const blocks = (v: any): any[] | undefined => (Array.isArray(v) ? v : undefined);

/** The Anthropic prefix: parts in order, the last one cut after the last breakpoint. */
function anthropicParts(b: Record<string, any>): Parts {
  const tools = blocks(b.tools) ?? [];
  const system = b.system;
  const messages = blocks(b.messages) ?? [];
  // Last breakpoint first: in messages (a content block), then in system, then in tools.
  for (let m = messages.length - 1; m >= 0; m--) {
    const content = blocks(messages[m]?.content);
    if (!content) continue;
    for (let i = content.length - 1; i >= 0; i--) {
      if (!hasBreakpoint(content[i])) continue;
      const last = { ...messages[m], content: content.slice(0, i + 1) };
      return { parts: [tools, system ?? null, [...messages.slice(0, m), last]], basis: 'cache_control' };
    }
  }
  const sys = blocks(system);
  if (sys) {
    for (let i = sys.length - 1; i >= 0; i--)
      if (hasBreakpoint(sys[i])) return { parts: [tools, sys.slice(0, i + 1)], basis: 'cache_control' };
  }
  for (let i = tools.length - 1; i >= 0; i--)
    if (hasBreakpoint(tools[i])) return { parts: [tools.slice(0, i + 1)], basis: 'cache_control' };
  return { parts: [tools, system ?? null], basis: 'tools+system' };
}

type Parts = { parts: unknown[]; basis: PrefixBasis };

function prefixParts(adapter: AdapterName, b: Record<string, any>): Parts | undefined {
  if (adapter === 'anthropic-messages') return anthropicParts(b);
  if (adapter === 'openai-chat')
    return { parts: [b.tools ?? null, (blocks(b.messages) ?? []).slice(0, -1)], basis: 'all_but_last' };
  if (adapter === 'openai-responses')
    return {
      parts: [b.tools ?? null, b.instructions ?? null, (blocks(b.input) ?? []).slice(0, -1)],
      basis: 'all_but_last',
    };
  return undefined;
}

/** The hash of a parsed request body's cacheable prefix; undefined for an API without one here (Gemini). */
export function cachePrefix(adapter: AdapterName, body: Record<string, any>, salt: Buffer): CachePrefix | undefined {
  const p = prefixParts(adapter, body);
  if (!p) return undefined;
  const hash = createHmac('sha256', salt).update(JSON.stringify(p.parts)).digest('hex').slice(0, 16);
  return { hash, basis: p.basis };
}

/** Whether a hop changed the prefix: both of its boundaries recorded one, and they differ. */
export function prefixChanged(before: unknown, after: unknown): boolean {
  const hashOf = (facts: unknown) =>
    facts && typeof facts === 'object' ? (facts as Record<string, unknown>).cache_prefix : undefined;
  const a = hashOf(before);
  const b = hashOf(after);
  return typeof a === 'string' && typeof b === 'string' && a !== b;
}

/** The salt of one chain: derived from the Moat CA's key (which every recording process holds) and the chain name. */
export function chainSalt(caKey: Buffer, chain: string): Buffer {
  return createHmac('sha256', caKey).update(`moat cache_prefix salt\0${chain}`).digest();
}
