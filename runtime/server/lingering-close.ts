/**
 * Closing a client's socket without losing the last thing written to it. A TCP socket closed
 * while bytes from the peer wait unread in its receive queue is reset, not ended: the reset can
 * discard output still queued on our side, and a client that is still writing gets EPIPE or
 * ECONNRESET from its next write, often before it reads what came before. A client in the
 * middle of COPY data or a long pipeline when its session ends with a FATAL would see a broken
 * connection instead of the server's error. So the socket is half-closed after its output, and
 * whatever the client still sends is read and dropped until it closes its side too (a client
 * reads the FATAL, then closes) or a second has passed.
 */
import type { Socket } from 'node:net';

/** How long a client that keeps sending may keep a closed session's socket open. */
const LINGER_MS = 1000;

/**
 * Ends `socket` after what was written to it, discards what still arrives (never buffered),
 * and destroys it once both sides are done, or after LINGER_MS whatever the client does. The
 * caller must have stopped reading from it: every later byte goes nowhere.
 */
export function closeLingering(socket: Socket): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
  // A reset from the client only means it is gone; the socket destroys itself.
  socket.on('error', ignore);
  let peerDone = socket.readableEnded;
  const destroyWhenDone = (): void => {
    if (peerDone && socket.writableFinished) socket.destroy();
  };
  socket.once('end', () => {
    peerDone = true;
    destroyWhenDone();
  });
  socket.once('finish', destroyWhenDone);
  socket.on('data', ignore);
  socket.end();
  socket.resume();
  destroyWhenDone();
}

function ignore(): void {}
