import { describeGpioContract } from '@iot/hardware/contracts';
import { afterAll } from 'vitest';
import { createRemoteHardware, RemoteHardwareServer, SimulatedFleet } from '../src/remote/index.ts';

// The contract suite every GPIO driver passes (docs/hardware-contracts.md §9), unchanged, against
// HARDWARE=remote: the client talks TCP on loopback to a simulator server whose devices have
// BCM 17 wired to 27. Each test gets a device of its own.

const fleet = new SimulatedFleet({ setup: (hardware) => hardware.gpio.wire(17, 27) });
let server: Promise<RemoteHardwareServer> | undefined;
let devices = 0;

afterAll(async () => {
  await (await server)?.close();
  await fleet.close();
});

describeGpioContract('remote (TCP to the simulator service, BCM 17 wired to 27)', async () => {
  server ??= RemoteHardwareServer.listen({ fleet });
  const { port } = await server;
  const hardware = await createRemoteHardware({ host: '127.0.0.1', port, device: `gpio-contract-${++devices}` });
  return { controller: hardware.gpio, outPin: 17, inPin: 27, teardown: () => hardware.close() };
});
