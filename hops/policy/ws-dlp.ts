// moat-policy's DLP over a WebSocket's client frames (pure): each client message, text or binary, read whole once
// its last fragment is in (so a secret split between fragments is still one secret; the gate holds the message until
// then), a close frame's reason and a ping's or pong's payload, read by the same scanner and detectors as request
// bodies (PolicyEngine.dlpOf: policy.dlp, the grants' placeholders allowed; a binary message's bytes as a body's
// are). A finding names the detectors, never the secret; the runtime then closes both sides with 1008 and records
// `error: dlp_blocked`. A frame with RSV bits set (a compression the handshake did not agree to) cannot be read and
// is refused as an unreadable body is.
import type { FrameInfo } from '../logic/ws-frame-reader';
import type { DlpOf, ScanResult } from './engine';

export interface WsDlpFinding {
  /** The link error code the close records. */
  code: 'dlp_blocked' | 'body_not_inspectable' | 'body_too_large_to_inspect';
  /** dlp_blocked: the detectors that fired (labels only). */
  labels: string[];
  where: 'text message' | 'binary message' | 'close reason' | 'ping payload' | 'pong payload' | 'frame';
  /** A sentence for the event's reason and the log (no secret in it). */
  reason: string;
}

/** Reads one connection's client frames as they pass; one per connection at moat-policy. */
export class WsClientDlp {
  /** The message's text so far, one part per fragment (joined once, at its last). */
  private parts: string[] = [];
  private bytes = 0;
  /** The message went past inspect_max_bytes (oversize allow): what follows is not read. */
  private over = false;

  constructor(private readonly dlp: DlpOf) {}

  /**
   * A client frame the reader completed (the reader copies every payload: `copyAll`): a finding closes the connection
   * before the frame is sent on. A data message (text or binary) is read whole at its last fragment, since the gate
   * (hops/runtime/ws-gate.ts) holds it until then: one read however many fragments it came in.
   */
  onFrame(f: FrameInfo): WsDlpFinding | undefined {
    if (f.op === 'close') return f.text ? this.read(f.text, 0, 'close reason') : undefined;
    if (f.op === 'ping' || f.op === 'pong') return f.text ? this.read(f.text, 0, `${f.op} payload`) : undefined;
    if (f.message === undefined) return undefined;
    // Refused whatever policy.oversize says: ingress took permessage-deflate out of the handshake, so only a client
    // hiding what it sends sets these bits.
    if (f.rsv !== 0) {
      const reason = `a client frame with RSV bits ${f.rsv} (compressed, not agreed in the handshake) cannot be inspected`;
      return { code: 'body_not_inspectable', labels: [], where: 'frame', reason };
    }
    const where = f.message === 'text' ? 'text message' : 'binary message';
    if (!this.over) {
      this.parts.push(f.text ?? '');
      this.bytes += f.size;
      if (f.textTruncated || this.bytes > this.dlp.inspectMaxBytes) {
        if (this.dlp.oversize === 'deny') {
          this.reset();
          return {
            code: 'body_too_large_to_inspect',
            labels: [],
            where,
            reason:
              `a client ${where} longer than policy.inspect_max_bytes (${this.dlp.inspectMaxBytes}); set ` +
              'policy.oversize: allow to let such messages through uninspected',
          };
        }
        this.over = true;
        this.parts = [];
      }
    }
    if (!f.fin) return undefined;
    const finding = this.over ? undefined : this.read(this.parts.join(''), 0, where);
    this.reset();
    return finding;
  }

  private read(text: string, from: number, where: WsDlpFinding['where']): WsDlpFinding | undefined {
    const part = from > 0 ? text.slice(from) : text;
    const raw = this.dlp.scan(part, this.dlp.detectors);
    const r: ScanResult = Array.isArray(raw) ? { findings: raw, complete: true } : (raw as ScanResult);
    if (r.findings.length > 0) {
      const labels = [...new Set(r.findings.map((x) => x.label))];
      return { code: 'dlp_blocked', labels, where, reason: `client ${where} contains ${labels.join(', ')}` };
    }
    if (!r.complete) return this.unreadable(where, `client ${where}: ${r.reason ?? 'encoded beyond what DLP reads'}`);
    return undefined;
  }

  private unreadable(where: WsDlpFinding['where'], reason: string): WsDlpFinding | undefined {
    if (this.dlp.oversize !== 'deny') return undefined;
    return { code: 'body_not_inspectable', labels: [], where, reason };
  }

  private reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.over = false;
  }
}
