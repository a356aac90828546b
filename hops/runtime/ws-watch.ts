// One WebSocket connection at one boundary, after its 101: its frames read both ways as they pass
// (hops/logic/ws-frame-reader.ts), batched into frames events on a timer (hops/events/ws-events.ts), and, at
// moat-policy, the gate on the client's text messages (hops/runtime/ws-gate.ts) whose finding closes both sides with
// 1008. Nothing is read when nothing needs it (no events, no gate).
import type { BoundaryRecorder } from '../events/boundary-recorder';
import { frameCopyBytes, WsFrameLog, type WsSide } from '../events/ws-events';
import type { DecisionRecord, RequestView, WebSocketFinding, WebSocketGuard } from '../logic/view';
import { WsFrameReader, type FrameInfo } from '../logic/ws-frame-reader';
import { CLOSE_POLICY_VIOLATION, closeFrame } from '../logic/ws-frame-writer';
import type { UpgradeTaps } from './forwarder';
import type { RelayFacts, WebSocketRelay } from './ws-relay';
import { WsGate } from './ws-gate';
import { SocketUsage } from '../providers/socket-usage';
import { isResponsesSocket } from '../providers/responses-socket';
import type { ProviderFacts } from '../providers/facts';

/** How much of a provider socket's message is kept to read its usage from (as the recorder keeps of a body). */
const PROVIDER_COPY_BYTES = 1 << 20;

export interface WsWatchOptions {
  recorder?: BoundaryRecorder;
  view: RequestView;
  /** performance.now() when the handshake arrived here. */
  started: number;
  /** moat-policy: its DLP over the client's text messages. */
  guard?: WebSocketGuard;
  /** The hop logic counts this connection's usage (a budget): a provider socket's messages are read for it. */
  wantsUsage?: boolean;
  /** Each response a provider socket finished, with its usage, as it finishes (moat-policy's budget). */
  onUsage?(facts: ProviderFacts): void;
  log(line: string): void;
}

/** How the connection ended, for its close event and the hop's log line. */
export interface WsEnding {
  closedBy: RelayFacts['closedBy'];
  closeCode?: number;
  closeReason?: string;
  framesUp: number;
  framesDown: number;
  /** Set when a hop closed it (dlp_blocked, ...). */
  error?: string;
  /** A hop's finding, closed for (deny) or only reported (would_deny). */
  decision?: DecisionRecord;
  /** A provider socket's usage over the connection (hops/providers/socket-usage.ts). */
  provider?: ProviderFacts;
}

export class WsWatch {
  private readonly log?: WsFrameLog;
  private readonly usage?: SocketUsage;
  private readonly down?: WsFrameReader;
  /** Facts of a response finished in the batch being gathered (the batch is published with them at once). */
  private facts?: ProviderFacts;
  private timer?: NodeJS.Timeout;
  private blocked?: WebSocketFinding;
  private decision?: DecisionRecord;

  constructor(
    private readonly o: WsWatchOptions,
    private readonly relay: WebSocketRelay,
  ) {
    const info = o.recorder?.info;
    if (o.recorder && info)
      this.log = new WsFrameLog({
        capture: info.capture,
        captureLimit: o.recorder.maxBodyBytes,
        placeholders: info.placeholders,
        startMs: o.started,
      });
    // A provider socket's messages are read for usage when something records or counts it.
    if ((this.log || o.wantsUsage) && isResponsesSocket(o.view.host, o.view.path)) this.usage = new SocketUsage();
    if (this.log || this.usage) this.down = new WsFrameReader({ copyBytes: this.copyBytes(), from: 'server' });
  }

  /** What the relay calls with each direction's bytes, and the gate it puts in the client's direction. */
  taps(): UpgradeTaps {
    const { guard } = this.o;
    const taps: UpgradeTaps = {};
    if (this.down) {
      const down = this.down;
      taps.onDown = (chunk) => {
        for (const f of down.push(chunk)) this.seen('server', f);
      };
    }
    if (guard) {
      taps.gate = new WsGate({
        reader: new WsFrameReader({ copyBytes: this.copyBytes(guard.inspectMaxBytes), from: 'client', copyAll: true }),
        read: (f) => guard.onFrame(f),
        // A message's frames carry headers too: what is held may pass inspect_max_bytes by those.
        maxHeld: guard.inspectMaxBytes + HEADER_ALLOWANCE,
        oversize: guard.oversize,
        onFrame: (f) => this.seen('client', f),
        onFinding: (finding) => this.found(guard, finding),
      });
    } else if (this.log || this.usage) {
      const up = new WsFrameReader({ copyBytes: this.copyBytes(), from: 'client' });
      taps.onUp = (chunk) => {
        for (const f of up.push(chunk)) this.seen('client', f);
      };
    }
    return taps;
  }

  /** The connection is gone: pending frames are published, and how it ended is returned. */
  ended(facts: RelayFacts): WsEnding {
    this.flush();
    const close = this.log?.firstClose;
    const ending: WsEnding = {
      closedBy: this.blocked ? 'moat' : close ? close.from : facts.closedBy,
      // Only a boundary that records (it has a log) publishes the close these counts go into.
      framesUp: this.log?.framesUp ?? 0,
      framesDown: this.log?.framesDown ?? 0,
    };
    if (close?.code !== undefined) ending.closeCode = close.code;
    if (close?.reason) ending.closeReason = close.reason;
    if (this.blocked) {
      ending.closeCode = CLOSE_POLICY_VIOLATION;
      ending.error = this.blocked.code;
    }
    if (this.decision) ending.decision = this.decision;
    if (this.usage?.sum) ending.provider = this.usage.sum;
    return ending;
  }

  private copyBytes(inspect = 0): number {
    return frameCopyBytes(this.o.recorder?.maxBodyBytes ?? 0, Math.max(inspect, this.usage ? PROVIDER_COPY_BYTES : 0));
  }

  private seen(side: WsSide, f: FrameInfo): void {
    const finished = this.usage && f.message === 'text' ? this.usage.frame(side, f) : undefined;
    if (finished && finished.normalization_error === undefined) this.o.onUsage?.(finished);
    if (!this.log) return;
    if (finished) this.facts = finished;
    // A finished response's frames event goes at once, with its facts (tap shows its tokens as they come).
    if (this.log.add(side, f, performance.now()) || finished) return this.flush();
    if (this.timer) return;
    const at = this.log.dueAt();
    if (at === undefined) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, at - performance.now()));
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.log?.take();
    const facts = this.facts as Record<string, unknown> | undefined;
    this.facts = undefined;
    if (batch) this.o.recorder!.frames(this.o.view, batch, facts);
  }

  /**
   * A finding of the hop's guard: enforced, 1008 to both sides (the client's frame never reaches the server) and the
   * connection closed; in report mode only logged and recorded. Returns whether the gate closes.
   */
  private found(guard: WebSocketGuard, finding: WebSocketFinding): boolean {
    if (this.blocked) return true;
    const { decision, log } = guard.describe(finding, this.o.view);
    this.o.log(log);
    // The first finding is the one recorded (report mode may find more).
    this.decision ??= decision;
    if (!guard.enforce) return false;
    this.blocked = finding;
    this.decision = decision;
    const reason = `moat: ${finding.code}`;
    this.relay.close(
      closeFrame(CLOSE_POLICY_VIOLATION, reason, false),
      closeFrame(CLOSE_POLICY_VIOLATION, reason, true),
    );
    return true;
  }
}

/** Bytes of frame headers allowed on top of inspect_max_bytes in a held message (14 per frame at most). */
const HEADER_ALLOWANCE = 64 * 1024;
