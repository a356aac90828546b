// Names of the hops moat ships. Each is its own file in hops/ (telemetry.ts, policy.ts).
export const BUILTIN_HOPS = ['moat-telemetry', 'moat-policy'] as const;
export type BuiltinHopName = (typeof BUILTIN_HOPS)[number];

export function isBuiltinHop(name: string): name is BuiltinHopName {
  return (BUILTIN_HOPS as readonly string[]).includes(name);
}
