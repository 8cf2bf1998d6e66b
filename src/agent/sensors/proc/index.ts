// The /proc sensor's public surface: the sensor, the shared start-time formula, the /proc reader
// (for seeding the process cache) and the passwd-backed user names.

export { ProcSensor } from './sensor.ts';
export type { ProcSensorOptions } from './sensor.ts';
export { CLK_TCK, procStartTimeMs } from './parse.ts';
export { ProcReader } from './reader.ts';
export { UserNames } from './users.ts';
