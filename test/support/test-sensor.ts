// A sensor for agent tests: emits numbered process starts (`args[1]` = n<i>) at a steady pace, so a test can
// count every event through the agent's batches, spool and re-sends.

import type { Observation, Sensor, SensorHealth } from '../../src/agent/sensor.ts';

/** Emits `total` process starts (`true n<i>`), `perTick` every 10 ms (all at once when perTick ≥ total). */
export class TestSensor implements Sensor {
  readonly mode = 'proc' as const;
  emitted = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #total: number;
  #perTick: number;
  constructor(total: number, perTick: number) {
    this.#total = total;
    this.#perTick = perTick;
  }
  async start(emit: (o: Observation) => void): Promise<void> {
    const tick = () => {
      for (let n = 0; n < this.#perTick && this.emitted < this.#total; n++, this.emitted++) {
        const i = this.emitted;
        emit({ type: 'process_start', timeMs: Date.now(), pid: 100_000 + i, ppid: 1, startTimeMs: 1_700_000_000_000 + i, args: ['true', `n${i}`] });
      }
      if (this.emitted >= this.#total) clearInterval(this.#timer);
    };
    tick();
    this.#timer = setInterval(tick, 10);
  }
  /** From now on `perTick` every 10 ms (a sensor made with 0 emits nothing until released). */
  release(perTick: number): void {
    this.#perTick = perTick;
  }
  async stop(): Promise<void> {
    clearInterval(this.#timer);
  }
  health(): SensorHealth {
    return { mode: 'proc', drops: 0, restarts: 0 };
  }
}
