// Serves UDP port 53 of a namespace from outside it: every A question gets the capture address, other
// types an empty answer (dns.ts), so every name leads into the namespace's captured ports.
import type dgram from 'node:dgram';
import { dnsResponse } from './dns';
import { CAPTURE_ADDRESS, DNS_TTL_S } from './protocol';

export function serveDns(socket: dgram.Socket): void {
  socket.on('message', (msg, from) => {
    const response = dnsResponse(msg, { address: CAPTURE_ADDRESS, ttl: DNS_TTL_S });
    if (response) socket.send(response, from.port, from.address);
  });
  socket.on('error', () => undefined);
}
