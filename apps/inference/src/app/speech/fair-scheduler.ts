// Shares the speech model between callers fairly: each request is a lane with its own FIFO of model runs, and a
// free slot takes the next run from the lanes in turn (round robin), so a long text cannot hold back another
// call's first clause. At most `maxLanes` requests are open at once (more: queue_full) and `slots` runs at once.

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export class CancelledError extends Error {
  override name = 'CancelledError';
}

interface Task {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class FairScheduler {
  private readonly lanes: SchedulerLane[] = [];
  private next = 0;
  private running = 0;

  constructor(
    readonly slots: number,
    readonly maxLanes: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be >= 1, got ${slots}`);
    if (!Number.isInteger(maxLanes) || maxLanes < 1) throw new RangeError(`maxLanes must be >= 1, got ${maxLanes}`);
  }

  /** Requests open now. */
  get openLanes(): number {
    return this.lanes.length;
  }

  /** Model runs waiting for a slot, all lanes together. */
  get waiting(): number {
    return this.lanes.reduce((n, lane) => n + lane.tasks.length, 0);
  }

  /** Opens a lane for one request; throws QueueFullError when `maxLanes` are open. */
  open(): SchedulerLane {
    if (this.lanes.length >= this.maxLanes) {
      throw new QueueFullError(`${this.maxLanes} speech requests are already open; try again shortly`);
    }
    const lane = new SchedulerLane(this);
    this.lanes.push(lane);
    return lane;
  }

  /** @internal */
  enqueued(): void {
    this.dispatch();
  }

  /** @internal */
  closed(lane: SchedulerLane): void {
    const index = this.lanes.indexOf(lane);
    if (index < 0) return;
    this.lanes.splice(index, 1);
    if (index < this.next) this.next--;
    if (this.next >= this.lanes.length) this.next = 0;
    for (const task of lane.tasks.splice(0)) task.reject(new CancelledError('the request was closed'));
  }

  private dispatch(): void {
    while (this.running < this.slots) {
      const task = this.take();
      if (!task) return;
      this.running++;
      task
        .run()
        .then(task.resolve, task.reject)
        .finally(() => {
          this.running--;
          this.dispatch();
        });
    }
  }

  /** The first task of the next lane (in turn) that has one. */
  private take(): Task | undefined {
    for (let i = 0; i < this.lanes.length; i++) {
      const index = (this.next + i) % this.lanes.length;
      const task = this.lanes[index].tasks.shift();
      if (task) {
        this.next = (index + 1) % this.lanes.length;
        return task;
      }
    }
    return undefined;
  }
}

export class SchedulerLane {
  /** @internal */
  readonly tasks: Task[] = [];
  private isClosed = false;

  constructor(private readonly scheduler: FairScheduler) {}

  /** Queues a model run in this lane; it runs when a slot is free and it is this lane's turn. */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.isClosed) return Promise.reject(new CancelledError('the request was closed'));
    return new Promise<T>((resolve, reject) => {
      this.tasks.push({ run: work, resolve: resolve as (value: unknown) => void, reject });
      this.scheduler.enqueued();
    });
  }

  /** Ends the lane; runs still waiting are rejected with CancelledError (a run in progress finishes). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.scheduler.closed(this);
  }
}
