// Tries each abstract socket name and egress's port once; prints what each gave.
export const SOCKET_PROBE = `
const net = require('net');
const { names, port } = JSON.parse(process.argv[1]);
const attempt = (to) => new Promise((resolve) => {
  const s = net.connect(to);
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve(e.code));
  setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000).unref();
});
(async () => {
  const out = {};
  for (const name of names) out[name] = await attempt({ path: '\\0' + name });
  out.port = await attempt({ port, host: '127.0.0.1' });
  console.log(JSON.stringify(out));
})();
`;
