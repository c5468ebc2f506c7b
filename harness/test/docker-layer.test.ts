import { afterAll, describe, expect, it } from 'vitest';
import {
  ContainerService,
  createArgs,
  createNetwork,
  createVolume,
  disconnectNetwork,
  connectNetwork,
  docker,
  dockerEngineProblem,
  missingImages,
  newRunId,
  SCENARIO_LABEL,
  scenarioLabels,
  sweepScenarioObjects,
} from '../src/docker/index.ts';
import { eventually, holdsFor } from '../src/testing/index.ts';

/** Any image with node; the backend's is built by docker/build-images.sh and never pulled. */
const IMAGE = 'iot-stack/backend:local';
const unavailable = (await dockerEngineProblem(5000)) ?? ((await missingImages([IMAGE])).length > 0 ? `no image ${IMAGE}` : undefined);

describe('docker run arguments', () => {
  it('publishes ports on 127.0.0.1 only, and labels, mounts and networks as asked', () => {
    const args = createArgs({
      name: 'x',
      image: 'img',
      command: ['node', 'main.ts'],
      env: { A: '1' },
      publish: [{ containerPort: 1883, hostPort: 41883 }],
      mounts: [{ source: '/tmp/a', target: '/config', readOnly: true }],
      labels: { [SCENARIO_LABEL]: 'run' },
      networks: [{ network: 'n1', aliases: ['mqttserver'] }, { network: 'n2' }],
    });
    expect(args).toEqual([
      'create', '--name', 'x', '--label', `${SCENARIO_LABEL}=run`, '--env', 'A=1', '--publish', '127.0.0.1:41883:1883',
      '--mount', 'type=bind,source=/tmp/a,target=/config,readonly', '--network', 'n1', '--network-alias', 'mqttserver', 'img', 'node', 'main.ts',
    ]);
    expect(() => createArgs({ name: 'x', image: 'img', publish: [{ containerPort: 1, hostPort: 0 }] })).toThrow(/not a TCP port/);
    expect(() => createArgs({ name: 'x', image: 'img', mounts: [{ source: '/a,b', target: '/c' }] })).toThrow(/may not contain/);
  });
});

describe.skipIf(unavailable !== undefined)(`the Docker layer on a real engine${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  const runId = newRunId();
  const labels = scenarioLabels(runId);
  afterAll(async () => {
    await sweepScenarioObjects(runId);
  });

  /** A service that logs one JSON line every 20 ms, numbered from 1 at each start. */
  const ticker = (name: string, network?: string) =>
    new ContainerService(name, {
      name: `${runId}-${name}`,
      image: IMAGE,
      command: ['node', '-e', "let n = 0; console.log('not json'); setInterval(() => console.log(JSON.stringify({ level: 'info', event: 'tick', n: ++n })), 20)"],
      labels,
      ...(network === undefined ? {} : { networks: [{ network }] }),
    }, { ready: (s, since) => s.waitForLog((r) => r.event === 'tick', 20_000, 'a tick', since).then(() => {}) });

  it('follows the JSON log lines across a kill and a restart, each line once', async () => {
    const service = await ticker('ticker').start();
    await service.waitForLog((r) => r.n === 5, 20_000, 'tick 5');
    await service.kill();
    expect(service.running).toBe(false);
    const firstRun = service.logs().length;
    await service.start();
    await eventually(() => service.logs().filter((r) => r.n === 1).length === 2 && service.logs().length > firstRun + 3, 20_000, 'ticks of the second start');
    await service.kill();
    const ticks = service.logs().map((r) => r.n as number);
    // The first start counted 1..k, the second 1..m, in order, nothing repeated or skipped.
    const restart = ticks.indexOf(1, 1);
    expect(ticks.slice(0, restart)).toEqual(Array.from({ length: restart }, (_, i) => i + 1));
    expect(ticks.slice(restart)).toEqual(Array.from({ length: ticks.length - restart }, (_, i) => i + 1));
    // What the engine holds, line for line.
    const engineLines = (await docker(['logs', service.id])).split('\n').filter((l) => l.startsWith('{'));
    expect(engineLines.length).toBe(ticks.length);
    await service.remove();
  });

  it('freezes with pause and goes on after unpause', async () => {
    const service = await ticker('paused').start();
    await service.freeze();
    const frozenAt = service.logs().length;
    // The cgroup freezer stops the timer outright: nothing may arrive, however long one watches.
    await holdsFor(() => service.logs().length <= frozenAt + 1, 500, 'no ticks while paused');
    await service.thaw();
    await eventually(() => service.logs().length > frozenAt + 3, 20_000, 'ticks after unpause');
    await service.remove();
  });

  it('a waiter learns that the container stopped', async () => {
    const service = await ticker('stopping').start();
    const waiting = expect(service.waitForLog((r) => r.event === 'never', 20_000, 'a line that never comes')).rejects.toThrow(/not running/);
    await service.kill();
    await waiting;
    await service.remove();
  });

  it('takes a container off a network and puts it back', async () => {
    const network = `${runId}-net`;
    await createNetwork(network, labels);
    const service = await ticker('networked', network).start();
    const networks = async () => Object.keys(JSON.parse(await docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', service.id])) as object);
    expect(await networks()).toEqual([network]);
    await disconnectNetwork(network, service.id);
    expect(await networks()).toEqual([]);
    await connectNetwork({ network }, service.id);
    expect(await networks()).toEqual([network]);
    await service.remove();
  });

  it('the sweep removes every labelled container, network and volume of a run', async () => {
    const other = newRunId();
    await createNetwork(`${other}-net`, scenarioLabels(other));
    await createVolume(`${other}-vol`, scenarioLabels(other));
    const service = await new ContainerService('swept', { name: `${other}-swept`, image: IMAGE, command: ['sleep', '600'], labels: scenarioLabels(other) }).start();
    expect(service.running).toBe(true);
    expect(await sweepScenarioObjects(other)).toEqual({ containers: 1, networks: 1, volumes: 1 });
    const left = await Promise.all([
      docker(['ps', '--all', '--quiet', '--filter', `label=${SCENARIO_LABEL}=${other}`]),
      docker(['network', 'ls', '--quiet', '--filter', `label=${SCENARIO_LABEL}=${other}`]),
      docker(['volume', 'ls', '--quiet', '--filter', `label=${SCENARIO_LABEL}=${other}`]),
    ]);
    expect(left).toEqual(['', '', '']);
    await service.closeLog();
  });
});
