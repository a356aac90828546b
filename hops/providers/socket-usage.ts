// A provider WebSocket's facts over its whole life (pure): each text message joined from its fragments (bounded by
// the copy the frame reader kept) goes to the Responses reader (responses-socket.ts); each response it finishes gives
// its facts, and the connection's total (usage summed, the last model) is what its close event carries, so budgets,
// telemetry and `cache` count Codex's tokens over a socket as they do over SSE.
import type { ProviderFacts } from './facts';
import { ResponsesSocketFacts } from './responses-socket';

/** The most text of one message joined from its fragments (a longer one is read as cut: responses-socket.ts). */
const MAX_MESSAGE_CHARS = 1 << 20;

export class SocketUsage {
  private readonly reader = new ResponsesSocketFacts();
  private readonly text = { client: '', server: '' };
  private readonly cut = { client: false, server: false };
  private total?: ProviderFacts;

  /**
   * A text frame (or a continuation of a text message) and the text the reader kept of it; returns the facts of a
   * response it finished, if it did.
   */
  frame(
    from: 'client' | 'server',
    f: { fin: boolean; text?: string; textTruncated?: boolean },
  ): ProviderFacts | undefined {
    if (this.text[from].length + (f.text?.length ?? 0) > MAX_MESSAGE_CHARS) this.cut[from] = true;
    else this.text[from] += f.text ?? '';
    if (f.textTruncated || f.text === undefined) this.cut[from] = true;
    if (!f.fin) return undefined;
    const text = this.text[from];
    const truncated = this.cut[from];
    this.text[from] = '';
    this.cut[from] = false;
    if (from === 'client') {
      this.reader.client(text, truncated);
      return undefined;
    }
    const facts = this.reader.server(text, truncated);
    if (facts && facts.normalization_error === undefined) this.add(facts);
    return facts;
  }

  /** The connection's usage so far: tokens summed over its responses, the model of the last; undefined if none. */
  get sum(): ProviderFacts | undefined {
    return this.total;
  }

  private add(f: ProviderFacts): void {
    const t = (this.total ??= { adapter: f.adapter, stream: true });
    if (f.model !== undefined) t.model = f.model;
    for (const k of [
      'input_tokens',
      'output_tokens',
      'cache_creation_input_tokens',
      'cache_read_input_tokens',
    ] as const)
      if (f[k] !== undefined) t[k] = (t[k] ?? 0) + f[k];
  }
}
