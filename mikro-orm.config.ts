import { cliMigrator, CliSeedManager } from './src/cli/mikro-orm-extensions.ts';
import { loadConfigOrExit } from './src/config.ts';
import { createOrmConfig } from './src/orm-config.ts';

export { createOrmConfig };

/** For `npx mikro-orm`: reads the environment once, when the CLI asks for its configuration. */
export default function cliConfig() {
  const config = loadConfigOrExit();
  return createOrmConfig(config, {}, cliMigrator(config), CliSeedManager);
}
