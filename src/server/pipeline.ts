// The pipeline: consumes event batches from the bus, lets the stages annotate what is stored (beforeStore: a
// process start's ancestry), stores them durably in the event store, then runs the after-storage stages (detection, …). A message is acknowledged on the bus (and so to the agent) only
// after the store write succeeded; a failing after-storage stage is logged and counted, never loses events
// (a `required` stage's failure also fails the batch, which is then redelivered). The events of a redelivered
// message (`redelivered`: JetStream after ack_wait or a nak, the local log's replay after a restart) that the store
// already holds are not stored again, so the events_hourly rollup counts them once; every stage still sees them
// (a crash may have fallen between the store write and a stage).

import type { Logger } from 'pino';
import type { Bus, BusMessage, Subscription } from '../bus/types.ts';
import type { VigilEvent } from '../schema/event.ts';
import type { EventStore } from '../stores/events/types.ts';
import { pipelineBatchSeconds, pipelineReplayedDuplicates } from './metrics.ts';
import { inSlices } from '../util/event-loop.ts';

/** Events a stage gets at once: large store batches are cut so the process keeps answering meanwhile. */
const STAGE_SLICE = 500;

export interface PipelineStage {
  readonly name: string;
  /** Its failure fails the batch (not acknowledged, so redelivered): its effects must be idempotent. */
  readonly required?: boolean;
  /** Runs on the whole batch before it is stored, in order (may add to the events what the store keeps of them). */
  beforeStore?(events: VigilEvent[]): Promise<void>;
  process(events: VigilEvent[]): Promise<void>;
}

export interface PipelineOptions {
  bus: Bus<VigilEvent[]>;
  store: EventStore;
  stages: PipelineStage[];
  log: Logger;
  maxBatchMessages?: number;
  /** How long to wait for a batch to fill once a message is there (bigger, fewer store writes). */
  maxWaitMs?: number;
}

export class Pipeline {
  private readonly o: PipelineOptions;
  private sub: Subscription | undefined;

  constructor(o: PipelineOptions) {
    this.o = o;
  }

  start(filter = 'events.>'): void {
    this.sub = this.o.bus.consume(filter, (batch) => this.handle(batch), {
      maxBatch: this.o.maxBatchMessages ?? 256, maxWaitMs: this.o.maxWaitMs ?? 0,
    });
  }

  private async handle(batch: BusMessage<VigilEvent[]>[]): Promise<void> {
    const end = pipelineBatchSeconds.startTimer();
    const events = batch.length === 1 ? batch[0].payload : batch.flatMap((m) => m.payload);
    for (const stage of this.o.stages) if (stage.beforeStore) await this.run(stage, () => stage.beforeStore!(events));
    await this.o.store.insert(batch.some((m) => m.redelivered) ? await this.notYetStored(batch) : events);
    end();
    for (const stage of this.o.stages) await this.run(stage, () => inSlices(events, STAGE_SLICE, (slice) => stage.process(slice)));
  }

  /** A stage's step: its failure is logged, and fails the batch when the stage is required. */
  private async run(stage: PipelineStage, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.o.log.error({ err, stage: stage.name }, 'pipeline stage failed');
      if (stage.required) throw err;
    }
  }

  /** The batch's events without those of redelivered messages that the store holds already (counted). */
  private async notYetStored(batch: BusMessage<VigilEvent[]>[]): Promise<VigilEvent[]> {
    const stored = await this.o.store.storedEventIds(batch.flatMap((m) => (m.redelivered ? m.payload : [])));
    if (stored.size === 0) return batch.flatMap((m) => m.payload);
    const out: VigilEvent[] = [];
    let dropped = 0;
    for (const m of batch) {
      for (const e of m.payload) {
        if (m.redelivered && stored.has(e.event.id)) dropped++;
        else out.push(e);
      }
    }
    pipelineReplayedDuplicates.inc(dropped);
    return out;
  }

  async stop(): Promise<void> {
    await this.sub?.stop();
  }
}
