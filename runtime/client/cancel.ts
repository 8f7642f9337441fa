/**
 * CancelRequest: a new connection that carries the session's process id and secret key and gets
 * no answer; the server closes it. The outcome shows only in the cancelled query's error (57014).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { BASE_CODECS } from '../protocol/extension.js';
import { ClientWire } from './wire.js';
import { ConnectionError } from './errors.js';
import type { TlsMode } from './options.js';

export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processId: number;
  readonly secretKey: Uint8Array;
  /** Ask for TLS first, as the session did; `require` fails if the server refuses. */
  readonly tls: TlsMode;
  readonly tlsOptions: ConnectionOptions;
}

export async function sendCancelRequest(target: CancelTarget): Promise<void> {
  const socket = await openSocket(target.host, target.port);
  const wire = new ClientWire(socket, BASE_CODECS);
  if (target.tls !== 'disable') {
    wire.send([{ type: 'SSLRequest' }]);
    const reply = await wire.receive();
    if (reply.type === 'SSLAccepted') await wire.startTls(target.tlsOptions);
    else if (target.tls === 'require') {
      wire.fail(new ConnectionError('08001', 'server does not support SSL, but SSL was required'));
      throw new ConnectionError('08001', 'server does not support SSL, but SSL was required');
    }
  }
  // The server answers nothing and closes: wait for that, so the cancel has been read when this resolves.
  await wire.end([{ type: 'CancelRequest', processId: target.processId, secretKey: target.secretKey }]);
}

export function openSocket(host: string, port: number, timeoutMs = 30_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionError('08001', `timed out connecting to ${host}:${port}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new ConnectionError('08001', `could not connect to ${host}:${port}: ${err.message}`, { cause: err }));
    });
  });
}
