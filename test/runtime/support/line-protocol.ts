/**
 * A wire protocol that is not PostgreSQL at all, registered through the same registry: each line
 * the client sends is SQL; rows come back as tab-separated lines, then a status line. It shows
 * that the hooks carry a whole protocol (the engine, the cancel table and the shutdown are the
 * server's, shared with the PostgreSQL listeners). Test-only.
 *
 *     client: user alice          server: key <pid> <secret hex>
 *                                         ready I
 *     client: select 7            server: 7
 *                                         done SELECT 1
 *                                         ready I
 *     client: quit                (the server closes)
 */
import type { Socket } from 'node:net';
import { PROTOCOL_3_0, type BackendMessage } from '../../../generated/index.js';
import { readErrorFields } from '../../../runtime/protocol/error-fields.js';
import type { Connection } from '../../../runtime/server/connection.js';
import type { ProtocolHooks, WireProtocol } from '../../../runtime/server/protocol-registry.js';
import { SocketInput } from '../../../runtime/server/socket-input.js';

/** The line protocol's side of a connection: the text received and not yet read as lines. */
export class LineWire {
  readonly input: SocketInput;
  private pending = '';

  constructor(readonly socket: Socket) {
    this.input = new SocketInput(socket, (chunk) => {
      this.pending += chunk.toString('utf8');
      return this.pending.length;
    });
  }

  /** The next whole line, or undefined once the client has gone. */
  async readLine(): Promise<string | undefined> {
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl >= 0) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        return line;
      }
      if (this.input.ended) return undefined;
      await this.input.waitForInput();
    }
  }

  writeLine(text: string): void {
    if (this.socket.writable) this.socket.write(`${text}\n`);
  }
}

type LineConnection = Connection<LineWire>;

const hooks: ProtocolHooks<LineWire> = {
  accept: (socket) => new LineWire(socket),

  async startup(c) {
    const line = await c.wire.readLine();
    const user = /^user (\S+)$/.exec(line ?? '')?.[1];
    if (user === undefined) {
      c.wire.writeLine('error 08P01 the first line must be "user NAME"');
      return undefined;
    }
    return { user, database: user, parameters: {}, protocolVersion: PROTOCOL_3_0 };
  },

  async authenticate(c, login) {
    // Only users who log in by trust: this protocol has no password exchange.
    if (c.services.users.lookup(login.user)?.exchange === 'trust') return true;
    c.wire.writeLine(`error 28000 no trust entry for user "${login.user}"`);
    return false;
  },

  async commandLoop(c: LineConnection) {
    for (;;) {
      if (c.shuttingDown || c.closed) return;
      const line = await c.wire.readLine();
      if (line === undefined || line === 'quit') return;
      await c.execute([{ type: 'Query', query: line }]);
    }
  },

  send(c, message) {
    const m = message as BackendMessage;
    if (m.type === 'DataRow') c.wire.writeLine(m.values.texts().map((v) => v ?? 'NULL').join('\t'));
    else if (m.type === 'CommandComplete') c.wire.writeLine(`done ${m.tag}`);
  },

  reportError(c, error) {
    const e = readErrorFields(error);
    c.wire.writeLine(`error ${e.code} ${e.message}`);
  },

  reportNotice(c, notice) {
    c.wire.writeLine(`notice ${readErrorFields(notice).message}`);
  },

  readyForQuery(c, status) {
    c.wire.writeLine(`ready ${status}`);
  },

  sendCancelKey(c, key) {
    c.wire.writeLine(`key ${key.processId} ${Buffer.from(key.secretKey).toString('hex')}`);
  },

  reportParameterStatus() {
    // Session settings are not part of this protocol.
  },

  resetAfterError() {
    // A line is a whole command: there is nothing to skip after an error.
  },

  close(c) {
    c.wire.input.close();
  },
};

export function lineProtocol(name = 'lines'): WireProtocol<LineWire> {
  return { name, hooks };
}
