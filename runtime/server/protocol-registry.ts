/**
 * Wire protocols register here (the seam Jan Wieck's proposal and Babelfish's protocol
 * extensions describe): each names how it accepts a client on its listeners; a server runs any
 * number of them at once over one engine, one cancel-key table and one shutdown. PostgreSQL's
 * protocol 3 registers itself through this same interface (see postgres-protocol.ts).
 */
import type { Socket } from 'node:net';
import type { Engine } from '../engine.js';
import type { UserTable } from '../auth/index.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { SessionSlots } from './session-slots.js';
import type { TlsSettings } from './connection.js';

/** What every protocol of one server shares. */
export interface SharedServices {
  readonly engine: Engine;
  readonly users: UserTable;
  readonly cancels: CancelRegistry;
  readonly tls: TlsSettings | undefined;
  readonly startupTimeoutMs: number;
  /** The server's session limit (maxConnections): take a slot at StartupMessage, give it back at close. */
  readonly sessionSlots?: SessionSlots;
  /** Reports a protocol-state violation by the server side (an engine bug), with the message and state. */
  readonly reportViolation: (report: { protocol: string; state: string; message: string; detail: string }) => void;
}

/** One accepted client of a protocol. */
export interface ProtocolConnection {
  /** Resolves when the connection has closed. */
  readonly done: Promise<void>;
  /** Ends the session for a server shutdown (cancelling what runs). */
  shutdown(): Promise<void>;
}

export interface WireProtocol {
  readonly name: string;
  /** Takes over a freshly accepted socket on one of this protocol's listeners. */
  accept(socket: Socket, services: SharedServices): ProtocolConnection;
}

export class ProtocolRegistry {
  private readonly protocols = new Map<string, WireProtocol>();

  register(protocol: WireProtocol): this {
    if (this.protocols.has(protocol.name)) throw new Error(`a protocol named "${protocol.name}" is already registered`);
    this.protocols.set(protocol.name, protocol);
    return this;
  }

  get(name: string): WireProtocol {
    const p = this.protocols.get(name);
    if (!p) throw new Error(`no protocol named "${name}" is registered (have: ${[...this.protocols.keys()].join(', ')})`);
    return p;
  }

  get names(): string[] {
    return [...this.protocols.keys()];
  }
}
