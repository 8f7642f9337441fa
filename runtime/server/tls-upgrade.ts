/**
 * Turns a client connection into a TLS one, server side: after an SSLRequest was accepted, or
 * directly when the client's first bytes are a TLS ClientHello (PostgreSQL 17's
 * sslnegotiation=direct, which must name the "postgresql" ALPN protocol).
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { SocketInput } from './socket-input.js';
import type { TlsSettings } from './tls-settings.js';

/**
 * Runs the handshake over the input's socket; from then on the input reads the TLS socket.
 * `clientHello` is what was already read of a direct handshake. Undefined when the handshake
 * failed, after which the connection is dropped.
 */
export async function upgradeToTls(
  input: SocketInput,
  tls: TlsSettings,
  options: { clientHello?: Uint8Array; alpn?: string } = {},
): Promise<TLSSocket | undefined> {
  const raw = input.release();
  let transport: Duplex = raw;
  if (options.clientHello !== undefined) {
    // The ClientHello was already read: replay it through a stream the TLS layer reads.
    const bridge = new Duplex({
      read: () => raw.resume(),
      write: (chunk, _enc, cb) => raw.write(chunk, cb),
      final: (cb) => raw.end(cb),
    });
    bridge.push(options.clientHello);
    raw.on('data', (d: Buffer) => {
      if (!bridge.push(d)) raw.pause();
    });
    raw.on('end', () => bridge.push(null));
    raw.on('close', () => bridge.destroy());
    transport = bridge;
  }
  const secure = new TLSSocket(transport as Socket, {
    isServer: true,
    secureContext: tls.secureContext,
    ...(options.alpn !== undefined ? { ALPNProtocols: [options.alpn] } : {}),
  });
  const ok = await new Promise<boolean>((resolve) => {
    secure.once('secure', () => resolve(true));
    secure.once('error', () => resolve(false));
    secure.once('close', () => resolve(false));
  });
  if (!ok) {
    raw.destroy();
    input.end();
    return undefined;
  }
  input.adopt(secure as unknown as Socket);
  return secure;
}
