import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController } from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazyRequestLogger, loggerOptions } from '../src/logging.ts';

const logging = new URL('../src/logging.ts', import.meta.url).href;
const config = new URL('../src/config.ts', import.meta.url).href;

/**
 * A process that logs `count` lines through the service's logger settings (stdout, buffered
 * with LOG_BUFFER_BYTES), then runs `then`; what it wrote to stdout, once it exited.
 */
function logThen(then: string, env: Record<string, string> = {}, count = 3) {
  const source = `
    import Fastify from 'fastify';
    import { loadConfig } from '${config}';
    import { loggerOptions } from '${logging}';
    const app = Fastify({ logger: loggerOptions(loadConfig({ LOG_LEVEL: 'info', ...process.env })) });
    for (let n = 1; n <= ${count}; n++) app.log.info({ n }, 'line');
    ${then}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: { ...process.env, NODE_ENV: 'development', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', chunk => (output.stdout += chunk));
  child.stderr.on('data', chunk => (output.stderr += chunk));
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
  const lines = () => output.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>);
  return { child, output, exited, lines };
}

describe('the log written to stdout in batches (LOG_BUFFER_BYTES)', () => {
  it('is written whole when the process exits: at the end of its work, on process.exit() and on a crash', async () => {
    const runs = [logThen(''), logThen('process.exit(3);'), logThen("throw new Error('crash after logging');"), logThen('process.exitCode = 0;', { LOG_BUFFER_BYTES: '16383' }, 200)];
    const codes = await Promise.all(runs.map(run => run.exited));
    expect(codes).toEqual([0, 3, 1, 0]);
    expect(runs[2].output.stderr).toContain('crash after logging');
    for (const [index, run] of runs.entries()) {
      const count = index === 3 ? 200 : 3;
      expect(run.lines().map(line => line.n)).toEqual(Array.from({ length: count }, (_, n) => n + 1));
    }
  });

  it('is written without further traffic or exit: a lone line reaches stdout while the process runs on', async () => {
    const run = logThen('setInterval(() => {}, 1000);', {}, 1);
    try {
      while (run.lines().length === 0) {
        if (run.child.exitCode !== null) throw new Error(`exited: ${run.output.stderr}`);
        await sleep(20);
      }
      expect(run.lines()).toMatchObject([{ n: 1, msg: 'line' }]);
      expect(run.child.exitCode).toBeNull();
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('is not buffered with LOG_BUFFER_BYTES=0 nor when the lines go to another stream', () => {
    const base = { logLevel: 'info' as const, logBufferBytes: 0 } as Parameters<typeof loggerOptions>[0];
    expect(loggerOptions(base)).not.toHaveProperty('stream');
    const stream = new Writable({ write: (_chunk, _encoding, done) => done() });
    expect(loggerOptions({ ...base, logBufferBytes: 4096 }, stream).stream).toBe(stream);
  });
});

describe('request.log made on first use', () => {
  it('writes with the request id, as the child Fastify makes would; its children and level work', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({ write: (chunk, _encoding, done) => void (lines.push(JSON.parse(String(chunk))), done()) });
    const app = Fastify({ logger: { level: 'info', stream }, childLoggerFactory: lazyRequestLogger, logController: new LogController({ disableRequestLogging: true }) });
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/loud', async request => {
      expect(request.log.level).toBe('info');
      request.log.debug('not written');
      request.log.warn({ detail: 1 }, 'from the request');
      request.log.child({ part: 'inner' }).error('from a child');
      return { ok: true };
    });
    app.get('/debug', { logLevel: 'debug' }, async request => {
      expect(request.log.level).toBe('debug');
      request.log.debug('written at the route level');
      return { ok: true };
    });
    try {
      const quiet = await app.inject({ url: '/quiet' });
      const loud = await app.inject({ url: '/loud' });
      const debug = await app.inject({ url: '/debug' });
      expect([quiet.statusCode, loud.statusCode, debug.statusCode]).toEqual([200, 200, 200]);
      expect(lines.map(({ msg, reqId, part, level }) => ({ msg, reqId, part, level }))).toEqual([
        { msg: 'from the request', reqId: 'req-2', part: undefined, level: 40 },
        { msg: 'from a child', reqId: 'req-2', part: 'inner', level: 50 },
        { msg: 'written at the route level', reqId: 'req-3', part: undefined, level: 20 },
      ]);
    } finally {
      await app.close();
    }
  });
});
