import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.ts';

const payload = { users: 5, wallets: 5, meters: 5, seed: 1 };

describe('EventBus', () => {
  it('delivers the payload to every listener and awaits async ones, in subscription order', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on('seed.completed', async received => {
      await new Promise(resolve => setTimeout(resolve, 10));
      seen.push(`slow ${received.users}`);
    });
    bus.on('seed.completed', received => void seen.push(`fast ${received.seed}`));
    await bus.emit('seed.completed', payload);
    expect(seen).toEqual(['slow 5', 'fast 1']);
  });

  it('stops delivering after off()', async () => {
    const bus = new EventBus();
    let calls = 0;
    const listener = () => void calls++;
    bus.on('seed.completed', listener);
    await bus.emit('seed.completed', payload);
    bus.off('seed.completed', listener);
    await bus.emit('seed.completed', payload);
    expect(calls).toBe(1);
  });

  it('rejects the emit when a listener fails', async () => {
    const bus = new EventBus();
    bus.on('seed.completed', async () => {
      throw new Error('cache unreachable');
    });
    await expect(bus.emit('seed.completed', payload)).rejects.toThrow('cache unreachable');
  });

  it('an event without listeners is a no-op', async () => {
    await expect(new EventBus().emit('seed.completed', payload)).resolves.toBeUndefined();
  });
});
