export { type AofSample, AofSizeTracker, type AofSizeTrackerOptions, currentIncrFile, type PowerCutOptions, type PowerCutResult, powerCut } from './power-cut.ts';
export { TcpProxy, type TcpProxyOptions } from './tcp-proxy.ts';
