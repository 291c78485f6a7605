import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { Redis } from 'ioredis';

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/**
 * A redis-server of the test's own, which it can stop and start again. Nothing is saved on
 * its own; `stop()` saves the data first (SHUTDOWN SAVE) so that, as after a network outage,
 * the entries written before are still there when it is back.
 */
export class OwnRedis {
  readonly port: number;
  readonly dir: string;
  #process: ChildProcess | undefined;

  constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], {
      stdio: 'ignore',
    });
    await vi.waitFor(() => this.client(client => client.ping()), { timeout: 10_000, interval: 50 });
  }

  async stop(): Promise<void> {
    if (!this.#process || this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    const child = this.#process;
    const exited = once(child, 'exit');
    await this.client(client => client.call('shutdown', 'save')).catch(() => {});
    // a shutdown that did not get through must not hang the test: end the process instead
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGSTOP: the server keeps its socket open but answers nothing, as a hung or swapped-out Redis does. */
  pause(): void {
    this.#process?.kill('SIGSTOP');
  }

  /** SIGCONT after `pause()`; harmless otherwise. */
  resume(): void {
    if (this.#process && this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill('SIGCONT');
  }

  /** Runs `work` on a short-lived connection of the test's own. */
  async client<T>(work: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return await work(client);
    } finally {
      client.disconnect();
    }
  }
}

/** Starts a redis-server of the test's own in a temporary directory; `remove()` stops it and deletes the directory. */
export async function startOwnRedis(): Promise<OwnRedis & { remove: () => Promise<void> }> {
  const server = new OwnRedis(await freePort(), await mkdtemp(join(tmpdir(), 'enerlink-redis-')));
  await server.start();
  return Object.assign(server, {
    remove: async () => {
      server.resume();
      await server.stop().catch(() => {});
      await rm(server.dir, { recursive: true, force: true });
    },
  });
}
