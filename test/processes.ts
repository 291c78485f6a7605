import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const entry = new URL('./fixtures/start-service.ts', import.meta.url).pathname;

/** The MikroORM CLI's entry point, i.e. what `npx mikro-orm` runs. */
export const MIKRO_ORM_CLI = new URL('../node_modules/@mikro-orm/cli/cli.js', import.meta.url).pathname;

/**
 * Runs a command-line entry point (`node <args>`) from the repository root as an operator
 * would, against `env`; resolves with its exit code and output whether it succeeds or not.
 */
export async function runCommand(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: root, env: { ...process.env, ...env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** A service process started by a test, with its output collected. */
export interface ServiceProcess {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** The port it listens on, once its log says so. */
  port: () => Promise<number>;
  /** Log lines (pino JSON) at level error (50) or above. */
  errors: () => Array<Record<string, unknown>>;
}

/** Starts the service like `npm start`, optionally with a migrations folder of the test's own. */
export function startServiceProcess(env: Record<string, string>, migrationsPath?: string): ServiceProcess {
  const child = spawn(process.execPath, [entry, ...(migrationsPath ? [migrationsPath] : [])], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'development', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: ServiceProcess = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise(resolve => child.on('exit', code => resolve(code))),
    port: async () => {
      for (let waited = 0; waited < 60_000; waited += 50) {
        const match = /Server listening at http:\/\/[^:]+:(\d+)/.exec(proc.stdout);
        if (match) return Number(match[1]);
        if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${proc.stderr}`);
        await sleep(50);
      }
      throw new Error(`service did not listen within 60 s: ${proc.stdout} ${proc.stderr}`);
    },
    errors: () =>
      proc.stdout
        .split('\n')
        .filter(line => line.startsWith('{'))
        .map(line => JSON.parse(line) as Record<string, unknown>)
        .filter(line => Number(line.level) >= 50),
  };
  child.stdout!.on('data', chunk => (proc.stdout += chunk));
  child.stderr!.on('data', chunk => (proc.stderr += chunk));
  return proc;
}

/** GET /health/ready on a running service. */
export async function readiness(port: number): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Waits until /health/ready answers 200. */
export async function waitUntilReady(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await readiness(port);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`not ready: ${JSON.stringify(body)}`);
    await sleep(100);
  }
}

/**
 * A migrations folder inside the repository (so the migrations resolve their imports) with
 * the real migrations plus `extra` ones (file name -> source), removed by `remove()`.
 */
export function migrationsFolder(extra: Record<string, string> = {}): { path: string; remove: () => void } {
  const path = `${root}test/.tmp/migrations-${randomBytes(4).toString('hex')}`;
  mkdirSync(path, { recursive: true });
  cpSync(`${root}migrations`, path, { recursive: true });
  for (const [file, source] of Object.entries(extra)) writeFileSync(`${path}/${file}`, source);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Source of a transactional migration class running `statements` on up and `down` on down. */
export function migrationSource(className: string, statements: string[], down: string[] = []): string {
  const lines = (list: string[]) => list.map(sql => `    this.addSql(${JSON.stringify(sql)});`).join('\n');
  return `import { Migration } from '@mikro-orm/migrations';

export class ${className} extends Migration {
  override async up(): Promise<void> {
${lines(statements)}
  }

  override async down(): Promise<void> {
${lines(down)}
  }
}
`;
}
