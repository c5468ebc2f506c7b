export { findFreePort } from './free-port.ts';
export { type ExitInfo, ManagedProcess, type ProcessSpec } from './managed-process.ts';
export { MariaDbServer, type MariaDbServerOptions, startMariaDbServer, templateDataDir } from './mariadb-server.ts';
export { DEVICE_REDIS_CONF, RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.ts';
export { makeTempDir } from './temp-dir.ts';
export { entrypointPath, type LogRecord, parseLogLine, type ServiceName, ServiceProcess, startServiceProcess } from './service-process.ts';
export { type Broker, BrokerProcess, type BrokerProcessOptions, startBrokerProcess } from './broker-process.ts';
export { MosquittoServer, type MosquittoServerOptions, startMosquittoServer } from './mosquitto-server.ts';
