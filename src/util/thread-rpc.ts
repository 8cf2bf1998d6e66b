// Calls and notifications between two threads over a message port (a Worker, parentPort or MessagePort).
// Each side registers handlers by name; call() resolves with the other side's handler result, or rejects
// with an Error carrying its message and code; notify() posts without an answer. Messages keep their order
// (the port is FIFO), so a notification sent after a call's result is seen after it.

export interface ThreadPort {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
}

type Handler = (...args: any[]) => unknown;

type Message =
  | { t: 'call'; id: number; name: string; args: unknown[] }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; message: string; code?: string }
  | { t: 'notify'; name: string; args: unknown[] };

interface Pending { resolve(v: unknown): void; reject(e: Error): void }

/** An Error from the other thread: its message and, when it had one, its `code`. */
export class RemoteError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
  }
}

export class ThreadRpc {
  readonly #port: ThreadPort;
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #gone: Error | undefined;

  constructor(port: ThreadPort) {
    this.#port = port;
    port.on('message', (m) => this.#receive(m as Message));
  }

  /** Registers what answers calls and notifications named `name`. */
  handle(name: string, fn: Handler): void {
    this.#handlers.set(name, fn);
  }

  call<R>(name: string, ...args: unknown[]): Promise<R> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#port.postMessage({ t: 'call', id, name, args } satisfies Message);
    });
  }

  notify(name: string, ...args: unknown[]): void {
    if (!this.#gone) this.#port.postMessage({ t: 'notify', name, args } satisfies Message);
  }

  /** The other thread is gone: every call in flight and every later call fails with `err`. */
  fail(err: Error): void {
    this.#gone = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #receive(m: Message): void {
    if (m.t === 'result' || m.t === 'error') {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.t === 'result') p?.resolve(m.value);
      else p?.reject(new RemoteError(m.message, m.code));
      return;
    }
    const fn = this.#handlers.get(m.name);
    if (m.t === 'notify') {
      if (fn) this.#settle(() => fn(...m.args), undefined);
      return;
    }
    if (!fn) return this.#port.postMessage({ t: 'error', id: m.id, message: `no handler for '${m.name}' in the other thread` } satisfies Message);
    this.#settle(() => fn(...m.args), m.id);
  }

  /** Runs a handler; answers a call with its result or error (a notification's error has no one to go to). */
  #settle(run: () => unknown, id: number | undefined): void {
    const answer = (m: Extract<Message, { id: number }>) => {
      try {
        this.#port.postMessage(m);
      } catch (err) { // e.g. a result that cannot be cloned: the caller still gets an answer
        this.#port.postMessage({ t: 'error', id: m.id, message: `answer not sendable: ${(err as Error).message}` } satisfies Message);
      }
    };
    Promise.resolve().then(run).then(
      (value) => { if (id !== undefined) answer({ t: 'result', id, value }); },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        const code = (e as { code?: unknown }).code;
        if (id !== undefined) answer({ t: 'error', id, message: e.message, code: typeof code === 'string' ? code : undefined });
        else this.#onNotifyError?.(e);
      },
    );
  }

  #onNotifyError: ((err: Error) => void) | undefined;

  /** Where errors of notification handlers go (they have no caller to reject). */
  onNotifyError(fn: (err: Error) => void): void {
    this.#onNotifyError = fn;
  }
}
