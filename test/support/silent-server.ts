// An endpoint that accepts connections and never answers: a TCP listener on 127.0.0.1 that
// reads nothing and writes nothing (no TLS handshake, no HTTP status line), as a hung proxy,
// a half-dead load balancer or a firewall that accepts and drops behaves. Every client Gantry
// uses must give up on it within its documented deadline (src/retry.ts Deadlines).
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SilentServer {
  port: number;
  /** 127.0.0.1:<port> */
  host: string;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    connections: () => accepted,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
