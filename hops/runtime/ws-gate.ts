// moat-policy's gate on a WebSocket's client bytes (a Transform between the client's socket and the next process):
// frames are read as they arrive (hops/logic/ws-frame-reader.ts), every frame is held until it is whole and a data
// message (text or binary) until its last fragment, and each is read by the DLP (hops/policy/ws-dlp.ts) before any of
// it goes on: no part of a secret leaves, split or not, in a message, a close reason or a ping. A control frame
// between a message's fragments keeps its place. Held bytes are bounded by policy.inspect_max_bytes: past it, a
// message is refused (oversize: deny) or let through unread (allow). A finding ends the gate: nothing more goes on, and
// the boundary closes both sides with 1008.
import { Transform, type TransformCallback } from 'node:stream';
import type { FrameInfo, WsFrameReader } from '../logic/ws-frame-reader';
import type { WebSocketFinding } from '../logic/view';

export interface WsGateOptions {
  reader: WsFrameReader;
  /** Reads each client frame (moat-policy's DLP); a finding it returns goes to onFinding. */
  read(frame: FrameInfo): WebSocketFinding | undefined;
  /** The most bytes held for one message (policy.inspect_max_bytes and its frames' headers). */
  maxHeld: number;
  oversize: 'deny' | 'allow';
  /** Every client frame, as read (the boundary records it). */
  onFrame(frame: FrameInfo): void;
  /**
   * A finding (a secret, a message past inspect_max_bytes, frames that cannot be read): true closes the gate (the
   * boundary closes the connection), false lets the bytes go on (report mode).
   */
  onFinding(finding: WebSocketFinding): boolean;
}

export class WsGate extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** A text message is being held until its last fragment. */
  private holding = false;
  /** Past maxHeld with oversize: allow: the message's bytes go on unheld until it ends. */
  private passing = false;
  private blocked = false;
  /** Report mode after a protocol error: everything goes on unread. */
  private broken = false;

  constructor(private readonly o: WsGateOptions) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.blocked) return done();
    if (this.broken) {
      this.push(chunk);
      return done();
    }
    const frames = this.o.reader.push(chunk);
    let sent = 0; // bytes of chunk already released or held
    for (const f of frames) {
      this.o.onFrame(f);
      const finding = this.o.read(f);
      if (finding && this.o.onFinding(finding)) return this.block(done);
      const end = f.end ?? chunk.length;
      const piece = chunk.subarray(sent, end);
      sent = end;
      if (f.message !== undefined) {
        // A data message goes on whole once its last fragment has been read (or unread, past the limit).
        if (f.fin || this.passing) this.release(piece);
        else this.hold(piece);
        this.holding = !f.fin;
        if (f.fin) this.passing = false;
      } else if (this.holding && !this.passing)
        this.hold(piece); // a control frame inside a held message keeps its place
      else this.release(piece);
    }
    if (this.o.reader.error) {
      // Nothing after it can be read as frames: fail closed (a lenient server might still take what follows). In
      // report mode the bytes go on unread.
      const broken: WebSocketFinding = {
        code: 'body_not_inspectable',
        reason: `the client's frames cannot be read (${this.o.reader.error})`,
      };
      if (this.o.onFinding(broken)) return this.block(done);
      this.broken = true;
      this.release(chunk.subarray(sent));
      return done();
    }
    // The frame in progress, whatever it is (its payload is read once it is whole), waits; past the limit it goes on.
    const rest = chunk.subarray(sent);
    if (this.passing) this.release(rest);
    else this.hold(rest);
    if (this.heldBytes > this.o.maxHeld) {
      const over: WebSocketFinding = {
        code: 'body_too_large_to_inspect',
        reason:
          `a client text message longer than policy.inspect_max_bytes; set policy.oversize: allow to let such ` +
          'messages through uninspected',
      };
      if (this.o.oversize === 'deny' && this.o.onFinding(over)) return this.block(done);
      this.passing = true;
      this.release(Buffer.alloc(0));
    }
    done();
  }

  private hold(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.held.push(bytes);
    this.heldBytes += bytes.length;
  }

  /** What was held, then `bytes`, in order. */
  private release(bytes: Buffer): void {
    for (const b of this.held) this.push(b);
    this.held = [];
    this.heldBytes = 0;
    if (bytes.length > 0) this.push(bytes);
  }

  private block(done: TransformCallback): void {
    this.blocked = true;
    this.held = [];
    this.heldBytes = 0;
    done();
  }
}
