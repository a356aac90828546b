// moat-policy's reload: moat.yaml read again, whole and checked as `up` checks it, down to the policy: section as
// moat-policy runs it. Handed to the hop runtime by its process entry (supervisor/chain/hop-process.ts).
import { readFileSync } from 'node:fs';
import type { PolicySettings } from '../../hops/policy/engine';
import { parseConfig } from './load';
import { policySettings } from './policy';

export function readPolicyFile(configFile: string): PolicySettings {
  return policySettings(parseConfig(readFileSync(configFile, 'utf8'), configFile).config);
}
