export { SimulationControl, type SimulationControlOptions } from './control-client.ts';
export { type ControlledDevices, ControlHandler, ControlRefusedError } from './control-handler.ts';
export { type ButtonOptions, SimulationControlHttpClient, SimulationControlHttpError } from './control-http-client.ts';
export { type ControlHttpServerOptions, ControlHttpServer } from './control-http-server.ts';
export {
  CONTROL_OPS,
  type ControlOp,
  type ControlRequest,
  type ControlResponse,
  parseRequest,
  parseRequestLine,
  type SimulationState,
} from './control-protocol.ts';
export { ControlServer } from './control-server.ts';
