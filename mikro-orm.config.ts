import { CliMigrator, CliSeedManager } from './src/cli/errors.ts';
import { loadConfigOrExit } from './src/config.ts';
import { createOrmConfig } from './src/db/orm-config.ts';

export { createOrmConfig };

/** For `npx mikro-orm`: reads the environment when the CLI asks for its configuration. */
export default function cliConfig() {
  return createOrmConfig(loadConfigOrExit(), {}, CliMigrator, CliSeedManager);
}
