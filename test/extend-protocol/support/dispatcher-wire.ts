/**
 * A dispatcher connection at the message level, for what PgClientConnection has no call for
 * (pipelines: Parse/Bind/Execute several times, then one Sync; Execute with a row limit). It asks
 * for the 'e' extension, logs in by trust, and checks both directions against the state machine
 * (the client's ClientWire does).
 */
import { connect } from 'node:net';
import {
  cloudberryExtendProtocol,
  decodeModifiedRelations,
  extendProtocolSubtagName,
  type ExtendProtocol,
} from '../../../generated/extensions/cloudberry-extend-protocol/index.js';
import { PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { ClientWire } from '../../../runtime/client/wire.js';
import { ProtocolCodecs } from '../../../runtime/protocol/extension.js';
import { Reader } from '../../../runtime/wire/index.js';
import { show } from '../../engines/pglite/helpers.js';

export class DispatcherWire {
  /** Every message since the last ReadyForQuery; extension messages reach observers only. */
  private seen: string[] = [];

  private constructor(private readonly wire: ClientWire) {
    wire.observe((m) => this.seen.push(token(m)));
  }

  static async connect(port: number, user: string): Promise<DispatcherWire> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const wire = new ClientWire(socket, new ProtocolCodecs([cloudberryExtendProtocol]));
    const parameters = { user, database: 'postgres', [cloudberryExtendProtocol.option!]: 'on' };
    wire.send([{ type: 'StartupMessage', protocolVersion: PROTOCOL_3_0, parameters: Object.entries(parameters).map(([name, value]) => ({ name, value })) }]);
    const c = new DispatcherWire(wire);
    const login = await c.untilReady();
    if (login.some((m) => m.startsWith('E(') || m.startsWith('NegotiateProtocolVersion'))) throw new Error(`login failed: ${login.join(' ')}`);
    return c;
  }

  /** Sends the messages; resolves with every answer up to ReadyForQuery, one token each (see `token`). */
  async run(...messages: FrontendMessage[]): Promise<string> {
    this.wire.send(messages);
    return (await this.untilReady()).join(' ');
  }

  close(): Promise<void> {
    return this.wire.end([{ type: 'Terminate' }]);
  }

  private async untilReady(): Promise<string[]> {
    while ((await this.wire.receive()).type !== 'ReadyForQuery');
    const tokens = this.seen;
    this.seen = [];
    return tokens;
  }
}

/** pglite's test tokens (`1 2 C(INSERT 0 1) Z(I)`), and an 'e' as `e(Inserted:16401,16402 Deleted:16405)`. */
function token(m: { readonly type: string }): string {
  if (m.type !== 'ExtendProtocol') return show([m as BackendMessage]);
  const blocks = (m as ExtendProtocol).blocks.map((b) => {
    const oids = decodeModifiedRelations(new Reader(b.data, 0, b.data.length, 'ModifiedRelations'), { protocolVersion: 0 }).relationOids;
    return `${extendProtocolSubtagName(b.subtag)}:${oids.join(',')}`;
  });
  return `e(${blocks.join(' ')})`;
}
