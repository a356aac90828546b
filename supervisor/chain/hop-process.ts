// The process pm2 starts for every Moat process (ingress, built-in hops, links, egress):
// `node dist/supervisor/chain/hop-process.js <spec.json>`. It runs hops/main.ts with what only the supervisor's side
// knows, how moat.yaml is read (for moat-policy's reload), so that hops/ never imports supervisor/.
import type { PolicyReader } from '../../hops/policy/runtime';
import { runMoatProcess } from '../../hops/main';

// Loaded only when moat-policy reloads: other processes start without the config loader (restart speed under load).
const readPolicy: PolicyReader = (file) =>
  (require('../config/policy-file') as typeof import('../config/policy-file')).readPolicyFile(file);

runMoatProcess(process.argv[2], { readPolicy });
