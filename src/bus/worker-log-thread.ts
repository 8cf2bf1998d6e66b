// Worker-thread entry of openWorkerLogBus (worker-log.ts): opens the LocalLogBus in workerData.dir and
// serves it to the parent thread; failed consumer batches are reported on stderr.

import { parentPort, workerData } from 'node:worker_threads';
import { bytesCodec } from './codec.ts';
import { LocalLogBus, type LocalLogBusOptions } from './local-log.ts';
import { serveLogBus } from './worker-log.ts';
import { ThreadRpc } from '../util/thread-rpc.ts';

const { dir, options } = workerData as { dir: string; options: Omit<LocalLogBusOptions<Uint8Array>, 'codec'> };
const bus = await LocalLogBus.open(dir, {
  ...options, codec: bytesCodec(),
  onHandlerError: (err, attempt) => process.stderr.write(`bus log: batch failed (attempt ${attempt}): ${(err as Error).message}\n`),
});
const rpc = new ThreadRpc(parentPort!);
serveLogBus(rpc, bus);
rpc.notify('ready');
