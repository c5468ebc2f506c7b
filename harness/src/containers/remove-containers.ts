// Detached helper of cleanup.ts: removes the containers whose ids it is given, after the process
// that started them has exited. Usage: node remove-containers.ts <container id>...
import { removeContainers } from './cleanup.ts';

await removeContainers(process.argv.slice(2));
