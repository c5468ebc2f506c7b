import { describeI2cContract } from '@iot/hardware/contracts';
import { afterAll } from 'vitest';
import { createRemoteHardware, RemoteHardwareServer, SimulatedFleet } from '../src/remote/index.ts';

// The contract suite every I2C driver passes (docs/hardware-contracts.md §9), unchanged, against
// HARDWARE=remote: a BME280 at 0x76 on bus 1 of a simulated device in a simulator server, reached
// over TCP on loopback; nothing answers at 0x77.

const fleet = new SimulatedFleet({ chips: [{ kind: 'bme280', busNumber: 1, address: 0x76 }] });
let server: Promise<RemoteHardwareServer> | undefined;
let devices = 0;

afterAll(async () => {
  await (await server)?.close();
  await fleet.close();
});

describeI2cContract('remote (TCP to the simulator service, BME280 at 0x76)', async () => {
  server ??= RemoteHardwareServer.listen({ fleet });
  const { port } = await server;
  const hardware = await createRemoteHardware({ host: '127.0.0.1', port, device: `i2c-contract-${++devices}` });
  const bus = await hardware.openI2cBus(1);
  return { bus, bme280Address: 0x76, absentAddress: 0x77, teardown: () => hardware.close() };
});
