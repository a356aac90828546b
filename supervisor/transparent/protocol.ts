// What the process outside (run.ts for `moat chain run --transparent`, hop-main.ts for a hop with
// `isolation: netns`) and its helper inside the new namespaces (netns-main.ts) tell each other over
// Node's IPC channel. The helper creates the listening sockets inside the namespace and sends them over
// as handles; the outside process serves them. For a hop the helper also opens connections to the hop's
// port inside and sends them over, so the link in front of the hop can reach it.

/** Every name resolves to this address inside the namespace (RFC 2544 benchmarking range, never routed). */
export const CAPTURE_ADDRESS = '198.18.0.1';
/** The TCP ports whose connections are relayed into the chain; any other port is refused. */
export const CAPTURED_PORTS = [443, 80] as const;
export type CapturedPort = (typeof CAPTURED_PORTS)[number];
export const DNS_PORT = 53;
/** TTL of the DNS answers: the address never changes, so this only bounds what a client caches past the run. */
export const DNS_TTL_S = 60;

/** argv[2] of the helper, as JSON. */
export interface HelperArgs {
  /** Absolute paths of the tools the helper runs inside. */
  ip: string;
  unshare: string;
  /** The user and group the command runs as (those of `moat chain run`), in a user namespace of its own. */
  uid: number;
  gid: number;
  command: string[];
  /** Set for a hop with `isolation: netns`; absent for `run --transparent`. */
  hop?: IsolatedHopPorts;
  /**
   * The helper is also alone in a mount namespace where it mounts a /proc of its PID namespace (the command sees no
   * process outside) and hides moat's state (hide-state.ts).
   */
  hide?: HiddenState;
  /**
   * `run --transparent`: the directory of the agent's copy of the CA. The helper removes it as it ends, which it
   * does when the command exits and also when `run` alone is killed (then nothing else would).
   */
  removeAtExit?: string;
}

export interface HiddenState {
  /** mount(8)'s absolute path. */
  mount: string;
  /**
   * Moat's state, and an isolated hop's user's home (real paths, none inside another): each covered by an empty
   * read-only tmpfs.
   */
  cover: string[];
  /**
   * An isolated hop: directories of scratch files and other programs' sockets (/tmp, /dev/shm, /run with the user's
   * runtime directory), each given an empty writable tmpfs of the namespace's own; and the rest of the file system
   * made read-only.
   */
  fresh?: string[];
  readOnly?: boolean;
  /** Real paths the command still needs from under a cover or a fresh directory, bound back in. */
  keep?: KeptPath[];
}

export interface KeptPath {
  path: string;
  /** Read-only unless set (the hop's own directory is writable, the CA files are not). */
  writable?: boolean;
}

export interface IsolatedHopPorts {
  /** Where the hop listens inside (127.0.0.1): 'ready' once it accepts there; 'connect' opens a connection to it. */
  port: number;
  /**
   * Its next link's port: a listener on 127.0.0.1 of this port inside is handed over too, so its upstream setting
   * works.
   */
  upstreamPort: number;
}

export type FromHelper =
  /** With a net.Server handle: the listener for `port`, on every address of the namespace. */
  | { kind: 'listener'; port: CapturedPort }
  /** With a dgram.Socket handle: UDP port 53 on every address of the namespace. */
  | { kind: 'dns' }
  /** Setting up the namespace failed at `step`; the helper exits. */
  | { kind: 'failed'; step: string; message: string }
  /** Hop only, with a net.Server handle: the listener on 127.0.0.1:upstreamPort inside. */
  | { kind: 'upstream' }
  /** Hop only: the hop accepts connections on its port inside. */
  | { kind: 'ready' }
  /** Hop only, with a net.Socket handle (paused, nothing read): the connection asked for by `connect` `id`. */
  | { kind: 'connected'; id: number }
  | { kind: 'connect-failed'; id: number; message: string };

export type ToHelper =
  /** Every handle arrived and is served: start the command. */
  | { kind: 'start' }
  /** `moat chain run` got this signal: pass it on to the command. */
  | { kind: 'signal'; signal: NodeJS.Signals }
  /** Hop only: open a connection to the hop's port inside and send it over. */
  | { kind: 'connect'; id: number };
