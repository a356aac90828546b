// A policy rule's `when:` condition in CEL (@marcbachmann/cel-js): compiled and type-checked once against the facts'
// declared types, evaluated only for rules whose other matchers matched. The agent chooses the facts, so evaluation
// is bounded: expressions are refused at load when they could cost more than a linear pass (a comprehension inside
// another; `matches`, whose JavaScript regular expressions can backtrack without bound), the facts are size-checked
// before they are read (cel-facts.ts), and an evaluation slower than the deadline is an error. Every error denies
// (engine.ts).
import { Environment } from '@marcbachmann/cel-js';

/** The variables an expression may read, and their CEL types (docs/policy.md#cel lists them). */
export const CEL_VARIABLES: Record<string, string> = {
  method: 'string',
  host: 'string',
  path: 'string',
  headers: 'map<string, string>',
  model: 'string',
  input_tokens: 'int',
  tools: 'list<string>',
  tool: 'string',
  args: 'map<string, dyn>',
};

/** The facts of one request (cel-facts.ts builds them). */
export interface CelFacts {
  method: string;
  host: string;
  path: string;
  headers: Record<string, string>;
  model: string;
  input_tokens: bigint;
  tools: string[];
  tool: string;
  args: Record<string, unknown>;
}

/** Bounds on what one evaluation reads and how long it may take. */
export const CEL_BOUNDS = {
  /** Parse-time limits (cel-js). */
  maxAstNodes: 256,
  maxDepth: 32,
  /** Facts: a string longer, a list or map larger, or arguments nested deeper is an evaluation error (fail closed). */
  maxStringChars: 64 * 1024,
  maxItems: 1024,
  maxNesting: 16,
  /** An evaluation that took longer is an error (fail closed). */
  deadlineMs: 50,
};

/** Comprehension macros: each one is a loop over a list or map the agent may make long. */
const LOOPS = new Set(['all', 'exists', 'exists_one', 'existsOne', 'map', 'filter', 'transformList', 'transformMap']);

const ENV = (() => {
  const env = new Environment({
    limits: { maxAstNodes: CEL_BOUNDS.maxAstNodes, maxDepth: CEL_BOUNDS.maxDepth },
  });
  for (const [name, type] of Object.entries(CEL_VARIABLES)) env.registerVariable(name, type);
  return env;
})();

export type CelProgram = (facts: CelFacts) => unknown;

/** A compile error: its message, and its 1-based line and column inside the expression. */
export class CelCompileError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }
}

const compiled = new Map<string, CelProgram>();

/** The expression compiled and checked to yield a bool; cached by its text (compiled once per process). */
export function compileWhen(expr: string): CelProgram {
  const cached = compiled.get(expr);
  if (cached) return cached;
  let program: ReturnType<Environment['parse']>;
  try {
    program = ENV.parse(expr);
  } catch (err) {
    throw compileError(expr, err, 'syntax error');
  }
  const check = program.check();
  if (!check.valid) throw compileError(expr, check.error, 'type error');
  if (check.type !== 'bool' && check.type !== 'dyn')
    throw new CelCompileError(`the expression yields ${check.type}; a condition must yield bool`, 1, 1);
  refuseCostly(expr, program.ast as AstNode);
  const run: CelProgram = (facts) => program(facts as unknown as Record<string, unknown>);
  compiled.set(expr, run);
  return run;
}

/**
 * Evaluates a compiled condition over the facts: true or false, or throws (facts over the bounds, a runtime error such
 * as a missing map key, a result that is not a bool, the deadline passed). The caller denies on a throw.
 */
export function evaluateWhen(
  program: CelProgram,
  facts: CelFacts,
  now: () => number = () => performance.now(),
): boolean {
  const start = now();
  let result: unknown;
  try {
    result = program(facts);
  } catch (err) {
    throw new Error(firstLine((err as Error).message));
  }
  const took = now() - start;
  if (took > CEL_BOUNDS.deadlineMs)
    throw new Error(`evaluation took ${took.toFixed(0)} ms, more than the ${CEL_BOUNDS.deadlineMs} ms allowed`);
  if (typeof result !== 'boolean') throw new Error(`the expression yielded ${typeof result}, not a bool`);
  return result;
}

interface AstNode {
  op: string;
  args: unknown;
  pos?: number;
}

/** Refused at load: `matches` (unbounded backtracking on the agent's text) and a loop inside a loop (quadratic). */
function refuseCostly(expr: string, root: AstNode): void {
  const walk = (node: unknown, loops: number): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach((n) => walk(n, loops));
    const n = node as AstNode;
    if (typeof n.op !== 'string') return;
    const args = Array.isArray(n.args) ? n.args : [n.args];
    const name = (n.op === 'rcall' || n.op === 'call') && typeof args[0] === 'string' ? args[0] : undefined;
    if (name === 'matches')
      throw at(
        expr,
        n.pos,
        'matches() is not available: its regular expressions can backtrack without bound on the ' +
          "agent's text; use startsWith, endsWith, contains or ==",
      );
    const loop = n.op === 'rcall' && name !== undefined && LOOPS.has(name);
    if (loop && loops >= 1)
      throw at(
        expr,
        n.pos,
        `${name}() inside another comprehension is refused: its cost grows with the square of the ` + "agent's input",
      );
    for (const a of args.slice(name === undefined ? 0 : 1)) walk(a, loops + (loop ? 1 : 0));
  };
  walk(root, 0);
}

/** Throws when a fact is longer, larger or deeper than CEL may read (before any work on it: masking, evaluation). */
export function checkFactBounds(fact: unknown, name: string): void {
  const visit = (v: unknown, depth: number, where: string): void => {
    if (typeof v === 'string') {
      if (v.length > CEL_BOUNDS.maxStringChars)
        throw new Error(`${where} is longer than ${CEL_BOUNDS.maxStringChars} characters, more than CEL may read`);
      return;
    }
    if (!v || typeof v !== 'object') return;
    if (depth > CEL_BOUNDS.maxNesting) throw new Error(`${where} is nested deeper than ${CEL_BOUNDS.maxNesting}`);
    const items = Array.isArray(v) ? v : Object.values(v);
    if (items.length > CEL_BOUNDS.maxItems)
      throw new Error(`${where} holds more than ${CEL_BOUNDS.maxItems} items, more than CEL may read`);
    for (const item of items) visit(item, depth + 1, where);
  };
  visit(fact, 0, name);
}

function compileError(expr: string, err: unknown, kind: string): CelCompileError {
  const e = err as { message?: string; node?: { pos?: number } };
  return at(expr, e.node?.pos, `${kind}: ${firstLine(e.message ?? String(err))}`);
}

function at(expr: string, pos: number | undefined, message: string): CelCompileError {
  const before = expr.slice(0, Math.max(0, Math.min(pos ?? 0, expr.length)));
  const lines = before.split('\n');
  return new CelCompileError(message, lines.length, lines[lines.length - 1].length + 1);
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim();
}
