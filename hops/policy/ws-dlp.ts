// moat-policy's DLP over a WebSocket's client frames (pure): the text of each client text message (its fragments
// read together, so a secret split between two of them is still one secret) and a client close frame's reason, read
// by the same scanner and detectors as request bodies (PolicyEngine.dlpOf: policy.dlp, the grants' placeholders
// allowed). A finding names the detectors, never the secret; the runtime then closes both sides with 1008 and records
// `error: dlp_blocked`. A frame with RSV bits set (a compression the handshake did not agree to) cannot be read and
// is refused as an unreadable body is.
import type { FrameInfo } from '../logic/ws-frame-reader';
import type { DlpOf, ScanResult } from './engine';

export interface WsDlpFinding {
  /** The link error code the close records. */
  code: 'dlp_blocked' | 'body_not_inspectable' | 'body_too_large_to_inspect';
  /** dlp_blocked: the detectors that fired (labels only). */
  labels: string[];
  where: 'text message' | 'close reason' | 'frame';
  /** A sentence for the event's reason and the log (no secret in it). */
  reason: string;
}

/**
 * Characters of a message already read that are read again with a new fragment: more than the longest secret a
 * detector knows (a PEM key of 8192 bits is under 7 000), so a secret split anywhere is seen whole. The window starts
 * after a character no token, base64 or percent-encoded run holds, so decoded views keep their alignment.
 */
export const WS_DLP_WINDOW = 16 * 1024;

const RUN_CHAR = /[A-Za-z0-9+/=_%-]/;

/** Where the re-read of a message starts: about `window` back from `from`, at the start of a run. */
function windowStart(text: string, from: number, window = WS_DLP_WINDOW): number {
  let at = Math.max(0, from - window);
  const floor = Math.max(0, at - window);
  while (at > floor && RUN_CHAR.test(text[at - 1])) at--;
  return at;
}

/** Reads one connection's client frames as they pass; one per connection at moat-policy. */
export class WsClientDlp {
  private text = '';
  private bytes = 0;
  /** The message went past inspect_max_bytes (oversize allow): what follows is not read. */
  private over = false;

  constructor(private readonly dlp: DlpOf) {}

  /** A client frame the reader completed: a finding closes the connection (before this frame is sent on). */
  onFrame(f: FrameInfo): WsDlpFinding | undefined {
    if (f.op === 'close') return f.text ? this.read(f.text, 0, 'close reason') : undefined;
    if (f.message === undefined) return undefined; // ping, pong
    // Refused whatever policy.oversize says: ingress took permessage-deflate out of the handshake, so only a client
    // hiding what it sends sets these bits.
    if (f.rsv !== 0) {
      const reason = `a client frame with RSV bits ${f.rsv} (compressed, not agreed in the handshake) cannot be inspected`;
      return { code: 'body_not_inspectable', labels: [], where: 'frame', reason };
    }
    if (f.message !== 'text') return undefined;
    let finding: WsDlpFinding | undefined;
    if (!this.over) {
      const before = this.text.length;
      this.text += f.text ?? '';
      this.bytes += f.size;
      if (f.textTruncated || this.bytes > this.dlp.inspectMaxBytes) {
        if (this.dlp.oversize === 'deny') {
          this.reset();
          return {
            code: 'body_too_large_to_inspect',
            labels: [],
            where: 'text message',
            reason:
              `a client text message longer than policy.inspect_max_bytes (${this.dlp.inspectMaxBytes}); set ` +
              'policy.oversize: allow to let such messages through uninspected',
          };
        }
        this.over = true;
      }
      finding = this.read(this.text, windowStart(this.text, before), 'text message');
      // The whole message once more at its end: a decoded view longer than the window.
      if (!finding && f.fin && before > 0) finding = this.read(this.text, 0, 'text message');
    }
    if (f.fin) this.reset();
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
    this.text = '';
    this.bytes = 0;
    this.over = false;
  }
}
