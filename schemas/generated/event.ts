/* Generated from schemas/event.schema.json by `npm run gen`. Do not edit. */

/**
 * One observation at one boundary of a chain: a request or a response as it passed between two hops. Published on NATS
 * (moat.<chain>.hop.<k>.<request|response|frames>) and stored one row each in the ledger.
 */
export interface MoatEvent {
  /**
   * Unique id of this event (random, 128 bits hex); a redelivery carries the same id.
   */
  id: string;
  /**
   * Name of the chain.
   */
  chain: string;
  /**
   * Trace id of the agent request (x-moat-trace); the same at every boundary.
   */
  trace: string;
  /**
   * Number of the hop this boundary leads into: boundary k-1 is hop k's before (requests) and after (responses); N+1 is
   * egress.
   */
  hop: number;
  /**
   * Name of that hop.
   */
  hop_name: string;
  /**
   * Boundary number: 0 is what the agent sent, N what leaves for the internet.
   */
  boundary: number;
  /**
   * request (agent to internet), response (back), frames (WebSocket frames that crossed this boundary, see frames), or
   * gap (events this link had to drop; see gap).
   */
  direction: 'request' | 'response' | 'frames' | 'gap';
  /**
   * When the event was observed, ISO 8601 with milliseconds.
   */
  time: string;
  /**
   * HTTP method.
   */
  method?: string;
  /**
   * http or https (of the destination).
   */
  scheme?: 'http' | 'https';
  /**
   * Destination host.
   */
  host?: string;
  /**
   * Destination port.
   */
  port?: number;
  /**
   * Path without the query string (queries may carry keys).
   */
  path?: string;
  /**
   * Response status (responses only).
   */
  status?: number;
  /**
   * Names of the headers present, lower case, sorted.
   */
  header_names?: string[];
  /**
   * Header values, with credential headers replaced by [REDACTED].
   */
  headers?: {
    [k: string]: string;
  };
  /**
   * Body bytes seen at this boundary.
   */
  body_size?: number;
  /**
   * SHA-256 of the whole body, hex.
   */
  body_sha256?: string;
  /**
   * Content-Type of the body.
   */
  content_type?: string;
  /**
   * Whether the body was a stream (text/event-stream or chunked without length).
   */
  streaming?: boolean;
  /**
   * Responses: from the request arriving at this boundary to the end of its response. The latency a hop added is its
   * before minus its after.
   */
  elapsed_ms?: number;
  /**
   * Responses: from the request arriving to the response headers.
   */
  ttfb_ms?: number;
  /**
   * exact when the trace id came with the request; inferred when a hop dropped it and the link in front of that hop
   * matched the request among those it had in flight (by method, host and path, then order); unmatched when nothing
   * matched and the request got a new trace.
   */
  correlation?: 'exact' | 'inferred' | 'unmatched';
  /**
   * What a hop decided about the request: allow, deny, log, or skipped.
   */
  decision?: string;
  /**
   * Id of the policy rule that decided.
   */
  rule?: string;
  /**
   * Human reason of the decision or of an error.
   */
  reason?: string;
  /**
   * Error code when the exchange failed at this boundary (hop_unavailable, client_aborted, ...).
   */
  error?: string;
  /**
   * Facts a provider adapter (chosen by host and path: Anthropic messages, OpenAI chat completions and responses,
   * Gemini generateContent) read from the body (or, on a frames event, from the WebSocket frames of the Responses API:
   * model and usage of response.completed): adapter, model, messages, tools, tokens_estimate (requests, characters /
   * 4), stream, input_tokens and output_tokens (responses, the provider's usage), cache_creation_input_tokens and
   * cache_read_input_tokens (responses: the provider's prompt-cache usage; OpenAI's cached tokens are reads),
   * cache_prefix and cache_prefix_basis (requests to the Anthropic and OpenAI APIs: a hash of the cacheable prefix,
   * salted per chain, and what it covers: cache_control, tools+system or all_but_last), or normalization_error when the
   * body could not be read.
   */
  provider?: {};
  /**
   * Stream health, on the response events of Server-Sent Events (text/event-stream, not compressed): what passed this
   * boundary, timed from the request arriving here.
   */
  stream?: {
    /**
     * Events dispatched (a block with a data: line, ended by a blank line).
     */
    events: number;
    /**
     * Milliseconds from the request arriving here to the first event passing.
     */
    first_event_ms?: number;
    /**
     * Milliseconds from the request arriving here to the last event passing.
     */
    last_event_ms?: number;
    /**
     * The largest time between two consecutive events.
     */
    max_gap_ms: number;
    /**
     * Events that arrived less than 1 ms after the one before.
     */
    bunched: number;
    /**
     * event: lines seen.
     */
    event_lines: number;
    /**
     * Whether the last event was the stream's final one (message_stop, response.completed, data: [DONE]).
     */
    final: boolean;
    /**
     * SHA-256 (16 hex digits) of the events' data, in order.
     */
    sequence: string;
    /**
     * A digest of the events' data that ignores their order (sums of each event's FNV-1a hashes and length): the same
     * content as another boundary's with another sequence means the events were reordered.
     */
    content: string;
  };
  /**
   * The body, only when capture allows (redacted or full), cut at capture.max_body_bytes.
   */
  body?: string;
  /**
   * Whether body was cut at capture.max_body_bytes.
   */
  body_truncated?: boolean;
  /**
   * Set on a gap record: how many events this link dropped because its queue was full or NATS was unreachable.
   */
  gap?: number;
  /**
   * Set on the events of a request sent by moat chain replay: the trace it replays.
   */
  replay_of?: string;
  /**
   * false on the events of a blind tunnel (a CONNECT to a host outside tls.intercept): method CONNECT, path empty,
   * body_size the bytes that passed each way (request: towards the destination, response: back), elapsed_ms the
   * tunnel's life, status the answer to the CONNECT. Absent otherwise.
   */
  intercepted?: boolean;
  /**
   * On a frames event: WebSocket frames that crossed this boundary, in order, at most 64 per event and 256 per
   * connection per second (the rest counted in frames_dropped).
   */
  frames?: {
    /**
     * Who sent the frame: client (the agent's side) or server.
     */
    from: 'client' | 'server';
    /**
     * The frame's opcode.
     */
    op: 'text' | 'binary' | 'close' | 'ping' | 'pong' | 'continuation';
    /**
     * Payload bytes.
     */
    size: number;
    /**
     * The FIN bit: false on every frame of a fragmented message but its last.
     */
    fin: boolean;
    /**
     * Milliseconds from the handshake arriving at this boundary to the frame passing (3 decimals).
     */
    at_ms: number;
    /**
     * Text frames, continuation frames of a text message, and a close frame's reason: the payload (unmasked) as
     * capture.bodies allows, secrets masked by the DLP detectors as in bodies, cut at capture.max_body_bytes; never in
     * capture metadata.
     */
    text?: string;
    /**
     * Whether text was cut (capture.max_body_bytes per frame, 64 KiB of text per event).
     */
    text_truncated?: true;
    /**
     * Close frames: the status code the frame carries (absent when its payload is empty).
     */
    close_code?: number;
  }[];
  /**
   * On a frames event: frames that crossed this boundary but are not listed, because more than 256 per second crossed.
   */
  frames_dropped?: number;
  /**
   * On the response event ending a WebSocket connection (status 101): how it closed and what passed after the
   * handshake; elapsed_ms is the connection's whole life, ttfb_ms the time until the 101.
   */
  websocket?: {
    /**
     * Who ended the connection: client or server (sent the first close frame), moat (a Moat process closed it, e.g.
     * moat-policy's 1008 on a DLP finding), abort (a socket ended with no close frame).
     */
    closed_by: 'client' | 'server' | 'moat' | 'abort';
    /**
     * The status code of the first close frame.
     */
    close_code?: number;
    /**
     * The reason of the first close frame, secrets masked as in frame text.
     */
    close_reason?: string;
    /**
     * Raw bytes from client to server after the handshake.
     */
    bytes_up: number;
    /**
     * Raw bytes from server to client after the handshake.
     */
    bytes_down: number;
    /**
     * Frames from client to server.
     */
    frames_up: number;
    /**
     * Frames from server to client.
     */
    frames_down: number;
  };
}
