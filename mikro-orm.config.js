// The MikroORM CLI loads this file natively; Node 24 strips the types of the real config.
export { default } from './mikro-orm.config.ts';
