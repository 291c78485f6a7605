import type { EntityData } from '@mikro-orm/core';
import { FixtureStream } from '../../src/seeding/fixture-set.ts';
import { User, type IUser } from '../../src/users/user.entity.ts';
import { FixtureFactory } from './fixture-factory.ts';

/**
 * Fixture users: `user_<joined ms>_<token>` ids, a faker name, an address on a reserved example
 * domain (never a real mailbox) made unique by the id's token, and the shared password hash.
 */
export class UserFactory extends FixtureFactory<IUser> {
  readonly model = User;

  row(index: number): EntityData<IUser> {
    const { userId, joinedAt } = this.fixtures.household(index);
    const faker = this.fixtures.fakerFor(FixtureStream.users, index);
    const firstName = faker.helpers.arrayElement(this.fixtures.names.first);
    const lastName = faker.helpers.arrayElement(this.fixtures.names.last);
    const domain = faker.helpers.arrayElement(EXAMPLE_DOMAINS);
    const demo = index === 0;
    return {
      userId,
      name: demo ? this.fixtures.login.name : `${firstName} ${lastName}`,
      email: demo ? this.fixtures.login.email : `${emailPart(firstName)}.${emailPart(lastName)}.${userId.slice(-8)}@${domain}`,
      passwordHash: this.fixtures.passwordHash,
      createdAt: joinedAt,
      updatedAt: joinedAt,
    };
  }
}

/** RFC 2606 domains: mail to fixture users can never reach anybody. */
const EXAMPLE_DOMAINS = ['example.com', 'example.net', 'example.org'];

function emailPart(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();
}
