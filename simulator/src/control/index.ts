export { SimulationControl, type SimulationControlOptions } from './control-client.ts';
export { CONTROL_OPS, type ControlOp, type ControlRequest, type ControlResponse, parseRequestLine, type SimulationState } from './control-protocol.ts';
export { ControlServer } from './control-server.ts';
