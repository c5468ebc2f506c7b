export { StartStopButtonService, type StartStopButtonOptions } from './button-service.ts';
export { type ButtonConfig, buttonConfigSchema, buttonEnv, parseButtonConfig } from './config.ts';
export { createButton } from './create-button.ts';
export { I2C_BUS_PINS, i2cPinConflict } from './i2c-pins.ts';
