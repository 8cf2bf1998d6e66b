// The eBPF sensor client's public surface: the sensor and its wire-format decoder.

export { EbpfSensor } from './sensor.ts';
export type { EbpfSensorCounters, EbpfSensorOptions } from './sensor.ts';
export { FrameDecoder, FRAME, FLAG, WIRE_MAGIC, WIRE_VERSION, HEADER_SIZE, MAX_FRAME } from './frames.ts';
export type { Frame, SensorHello, SensorStats } from './frames.ts';
