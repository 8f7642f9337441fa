/**
 * The reading side of a client socket for a protocol whose loop reads one message at a time:
 * received bytes go to the protocol's buffer, the loop awaits `waitForInput()` when it needs
 * more, and reading pauses while more than a high-water mark waits, so a client that sends
 * without reading the answers cannot grow the server's buffers (whether the engine is busy or
 * the loop waits for the client to drain its output).
 */
import type { Socket } from 'node:net';
import { closeLingering } from './lingering-close.js';

/** Input held beyond this while a complete message waits to be processed pauses the socket. */
const INPUT_HIGH_WATER = 1024 * 1024;

export class SocketInput {
  private current: Socket;
  private wake: (() => void) | undefined;
  /** The client has gone (end of input, close or error), or the connection is closing. */
  ended = false;

  constructor(
    socket: Socket,
    /** Takes received bytes; returns how many bytes are now buffered and not yet processed. */
    private readonly receive: (chunk: Buffer) => number,
  ) {
    this.current = socket;
    this.attach(socket);
  }

  get socket(): Socket {
    return this.current;
  }

  /** Stops taking bytes from the socket (they go to a TLS layer instead); an error on it still ends the input. */
  release(): Socket {
    this.detach(this.current);
    return this.current;
  }

  /** Reads from this socket from now on (the TLS layer over the released one). */
  adopt(socket: Socket): void {
    this.current = socket;
    this.attach(socket);
  }

  /** Resolves when more bytes arrived or the input ended. */
  async waitForInput(): Promise<void> {
    if (this.ended) return;
    if (this.current.isPaused()) this.current.resume();
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Reading resumes once what waits has fallen below the high-water mark. */
  resumeBelow(buffered: number): void {
    if (buffered < INPUT_HIGH_WATER && this.current.isPaused()) this.current.resume();
  }

  /** Ends the input: the loop's next wait returns at once. */
  end(): void {
    this.ended = true;
    this.wakeUp();
  }

  /**
   * Ends the input and closes the socket after what was written to it. What the client still
   * sends is read and dropped, never processed, so that its unread bytes cannot make TCP reset
   * the connection over our last output (see lingering-close.ts).
   */
  close(): void {
    this.end();
    const socket = this.current;
    socket.removeAllListeners('data');
    closeLingering(socket);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private attach(socket: Socket): void {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.receive(chunk) > INPUT_HIGH_WATER) socket.pause();
      this.wakeUp();
    });
    const end = (): void => this.end();
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  private detach(socket: Socket): void {
    socket.removeAllListeners('data');
    socket.removeAllListeners('end');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    socket.on('error', () => this.end());
  }
}
