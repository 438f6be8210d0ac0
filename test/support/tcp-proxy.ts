import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of a server, as a load balancer in front of processor replicas: tests
 * switch it to another replica and drop its connections, as a replica that goes away would.
 */
export interface TcpProxy {
  url: string;
  /** Sends new connections to this port from now on. */
  switchTo(port: number): void;
  /** Cuts every open connection (the clients see them drop). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    switchTo(p) {
      target = p;
    },
    dropAll() {
      for (const s of open) s.destroy();
      open.clear();
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
