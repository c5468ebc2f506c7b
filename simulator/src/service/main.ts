import { runService } from '@iot/common/service';
import { parseSimulatorConfig } from './simulator-config.ts';
import { createSimulatorService } from './simulator-service.ts';

// The simulator container: `node simulator/src/service/main.ts` (docs/hardware-contracts.md §14).
await runService({
  name: 'simulator',
  build: async (env, logger) => createSimulatorService(parseSimulatorConfig(env), logger),
});
