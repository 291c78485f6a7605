import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events/event-bus.ts';

describe('EventBus', () => {
  it('delivers to every listener in subscription order and resolves once they all have', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on('seed.completed', async ({ users }) => {
      await new Promise(resolve => setTimeout(resolve, 5));
      seen.push(`first ${users}`);
    });
    bus.on('seed.completed', ({ seed }) => void seen.push(`second ${seed}`));
    await bus.emit('seed.completed', { users: 3, wallets: 3, meters: 3, seed: 42 });
    expect(seen).toEqual(['first 3', 'second 42']);
  });

  it('off removes a listener; events without listeners are fine', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const listener = ({ entity, id }: { entity: string; id: string }) => void seen.push(`${entity}:${id}`);
    bus.on('entity.changed', listener);
    await bus.emit('entity.changed', { entity: 'user', id: 'u1' });
    bus.off('entity.changed', listener);
    await bus.emit('entity.changed', { entity: 'user', id: 'u2' });
    await bus.emit('schema.changed', { method: 'up', migrations: [], transactional: true });
    expect(seen).toEqual(['user:u1']);
    expect(bus.listenerCount('entity.changed')).toBe(0);
  });

  it('a listener error reaches the emitter', async () => {
    const bus = new EventBus().on('seed.completed', () => {
      throw new Error('listener failed');
    });
    await expect(bus.emit('seed.completed', { users: 1, wallets: 1, meters: 1, seed: 1 })).rejects.toThrow('listener failed');
  });
});
