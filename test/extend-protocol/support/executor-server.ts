/** A PgServer with plain protocol 3 on one listener and the Cloudberry executor dialect on another, over one engine. */
import type { Engine } from '../../../runtime/engine.js';
import { EXECUTOR_PROTOCOL, cloudberryExecutorProtocol } from '../../../runtime/extend-protocol/executor-protocol.js';
import { PgServer } from '../../../runtime/server/server.js';

export interface ExecutorServer {
  readonly server: PgServer;
  readonly plainPort: number;
  readonly executorPort: number;
}

export async function startExecutorServer(engine: Engine): Promise<ExecutorServer> {
  const server = new PgServer({
    engine,
    protocols: [cloudberryExecutorProtocol()],
    listeners: [
      { host: '127.0.0.1', port: 0 },
      { protocol: EXECUTOR_PROTOCOL, host: '127.0.0.1', port: 0 },
    ],
  });
  const [plain, executor] = await server.listen();
  return { server, plainPort: plain!.port!, executorPort: executor!.port! };
}
