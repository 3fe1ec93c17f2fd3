/**
 * Wakes long polls: `notify(agentId)` resolves every `waitForJob` of that agent at once. In-process only; the store
 * stays the truth, so a missed wake-up costs at most one poll interval.
 *
 * @example
 * await notifier.waitForJob(agent.id, 50_000, request.signal);
 */
/** Why {@link JobNotifier.waitForJob} returned. */
export type WaitOutcome = 'woken' | 'timeout' | 'stopped';

/**
 * The end of a held long poll's connection, as a plain callback: an AbortController and its signal (an EventTarget)
 * per held poll are several times its size, and 10,000 idle agents hold one each.
 */
export class HangUp {
  hungUp = false;
  #listener: (() => void) | undefined;

  /** The agent went away: stops the wait in progress, if any, and every later one at once. */
  readonly hangUp = (): void => {
    this.hungUp = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  };

  /** Sets (or, with `undefined`, clears) what runs on hang-up; runs it now if the agent is already gone. */
  onHangUp(listener: (() => void) | undefined): void {
    this.#listener = listener;
    if (listener && this.hungUp) this.hangUp();
  }
}

/** Long polls woken per turn of the event loop by {@link JobNotifier.announce}. */
const WAKE_SLICE = 200;

/**
 * How long an agent's "no pending job" stays believed without asking the store (see {@link JobNotifier.mayHaveJob}):
 * insurance against a way of making a job that forgot to notify, at one store read per agent per interval.
 */
const EMPTY_TRUSTED_MS = 5 * 60_000;

/** What a waiting poll runs when its agent is woken. */
type Waiter = () => void;

/** A job announced to this process: made here or by another replica. */
export interface AnnouncedJob {
  agentId: string;
  /** Undefined when the announcement did not say which job (an older replica's): news whatever the agent knew. */
  jobId: string | undefined;
}

export class JobNotifier {
  /**
   * The waiting polls by agent: one function, or (rarely, two polls of one agent at once) several. A plain map, not an
   * EventEmitter: with 10,000 agents an emitter's listener table is a 10,000-key dictionary, and adding and removing a
   * listener on every poll was a measurable part of an idle fleet's CPU.
   */
  #waiting = new Map<string, Waiter | Waiter[]>();
  /**
   * Counts every announcement of a new job (this process's, and other replicas' through the job watcher): each one
   * gets the next number, so an answer of the store read at count N is older than every announcement numbered above N.
   */
  #epoch = 0;
  /**
   * Per agent: the last job announced for it and its count, kept until the store's next "none" for the agent makes it
   * old news. An agent's answer is stale only when a job was announced for that agent after it — not for any agent:
   * a rollout's 10,000 announcements, arriving in many notifications and again from the watcher's re-check, must not
   * make every agent that already took its job read the store again.
   */
  #announced = new Map<string, { jobId: string | undefined; epoch: number }>();
  /**
   * Per agent: the count and time when the store last said it had no pending job, and the job it had just claimed
   * then (an announcement of that job, arriving late, is no news).
   */
  #empty = new Map<string, { epoch: number; at: number; jobId?: string }>();
  /** Per agent: its only pending job when the store was last asked, and the count then (see {@link onlyPending}). */
  #only = new Map<string, { jobId: string; epoch: number }>();

  /** Wakes the agent's polls and makes them ask the store, whatever it said before (a job of unknown id). */
  notify(agentId: string): void {
    this.#note({ agentId, jobId: undefined });
    this.#wake(agentId);
  }

  /**
   * Told of the jobs this process made, to tell other hub replicas (see job-watcher.ts); not of the ones other
   * replicas told us of. A batch's jobs are named by deployment, batch and agent (rollout/engine-context.ts `jobIdFor`).
   */
  publish: ((deploymentId: string, batch: number, agentIds: readonly string[]) => void) | undefined;

  /** New jobs made here (one batch): wakes their agents' polls in this process, and tells the other replicas. */
  jobsMade(deploymentId: string, batch: number, jobs: readonly AnnouncedJob[]): Promise<void> {
    if (jobs.length) this.publish?.(deploymentId, batch, jobs.map((job) => job.agentId));
    return this.announce(jobs);
  }

  /** The count of announcements so far: read it before asking the store, and pass it to {@link noneFor}. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * False when the store said, since the last announcement of a job for this agent, that it has none pending: an idle
   * fleet's polls then skip that read. Every job is announced when it is made (advance-deployment.ts, the job
   * watcher), and an answer is trusted for {@link EMPTY_TRUSTED_MS} at most.
   */
  mayHaveJob(agentId: string, now = Date.now()): boolean {
    const empty = this.#empty.get(agentId);
    if (!empty || now - empty.at > EMPTY_TRUSTED_MS) return true;
    const announced = this.#announced.get(agentId);
    return announced !== undefined && announced.epoch > empty.epoch;
  }

  /** The store said, at announcement count `epoch` (read before asking), that the agent has no pending job. */
  noneFor(agentId: string, epoch: number, now = Date.now(), jobId?: string): void {
    const known = this.#empty.get(agentId);
    // Two reads of one agent finishing out of order: the older answer does not replace the newer one.
    if (known && known.epoch > epoch && now - known.at <= EMPTY_TRUSTED_MS) return;
    this.#empty.set(agentId, jobId === undefined ? { epoch, at: now } : { epoch, at: now, jobId });
    const announced = this.#announced.get(agentId);
    if (announced && announced.epoch <= epoch) this.#announced.delete(agentId);
  }

  /**
   * The store said, at announcement count `epoch` (read before asking), that `jobId` is the agent's only pending job:
   * once the agent has claimed it here ({@link claimed}), it has none, as if {@link noneFor} had been told after a
   * read. A fleet's 10,000 jobs then cost no read when each agent polls again after its job.
   */
  onlyPending(agentId: string, jobId: string, epoch: number): void {
    this.#only.set(agentId, { jobId, epoch });
  }

  /** The agent claimed `jobId` in this process; when it was its only pending job, it has none as of then. */
  claimed(agentId: string, jobId: string, now = Date.now()): void {
    const only = this.#only.get(agentId);
    if (!only) return;
    this.#only.delete(agentId);
    if (only.jobId === jobId) this.noneFor(agentId, only.epoch, now, jobId);
  }

  /**
   * Jobs made (here or by another replica): their agents' polls here wake and read them, {@link WAKE_SLICE} at a time
   * with the event loop running between slices — each woken poll reads its job and answers, and 10,000 of those in one
   * go would hold every other request (and the lease renewals) for a second or more. A job announced again (another
   * replica's notification, then the watcher's re-check) or one its agent has claimed already is no news: nobody wakes.
   */
  async announce(jobs: readonly AnnouncedJob[]): Promise<void> {
    const agents: string[] = [];
    for (const job of jobs) if (this.#note(job)) agents.push(job.agentId);
    for (let i = 0; i < agents.length; i += WAKE_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const agentId of agents.slice(i, i + WAKE_SLICE)) this.#wake(agentId);
    }
  }

  /** Records an announcement; false when it is no news for its agent. */
  #note({ agentId, jobId }: AnnouncedJob): boolean {
    // Told already, or claimed already (a job id never returns to pending). A job only read, not claimed, is news
    // again: the poll that read it may not have reached its agent, and another poll's older answer may say none.
    if (jobId !== undefined && (this.#announced.get(agentId)?.jobId === jobId || this.#empty.get(agentId)?.jobId === jobId)) return false;
    this.#announced.set(agentId, { jobId, epoch: ++this.#epoch });
    return true;
  }

  /**
   * Resolves on a notification for `agentId` (`'woken'`: a job may be there), after `ms` (`'timeout'`: none was
   * announced to this process), or when `stop` is cancelled or aborted (`'stopped'`) — whichever comes first.
   */
  waitForJob(agentId: string, ms: number, stop?: AbortSignal | HangUp): Promise<WaitOutcome> {
    return new Promise((resolve) => {
      const end = (outcome: WaitOutcome) => {
        clearTimeout(timer);
        this.#remove(agentId, woken);
        if (stop instanceof HangUp) stop.onHangUp(undefined);
        else stop?.removeEventListener('abort', stopped);
        resolve(outcome);
      };
      const woken = () => end('woken');
      const stopped = () => end('stopped');
      const timer = setTimeout(end, ms, 'timeout');
      this.#add(agentId, woken);
      if (stop instanceof HangUp) stop.onHangUp(stopped);
      else stop?.addEventListener('abort', stopped, { once: true });
    });
  }

  /** How many agents have a poll waiting here now. */
  get waitingAgents(): number {
    return this.#waiting.size;
  }

  /** Wakes every waiting poll (used on shutdown). */
  wakeAll(): void {
    for (const agentId of [...this.#waiting.keys()]) this.#wake(agentId);
  }

  #add(agentId: string, waiter: Waiter): void {
    const present = this.#waiting.get(agentId);
    if (!present) this.#waiting.set(agentId, waiter);
    else if (typeof present === 'function') this.#waiting.set(agentId, [present, waiter]);
    else present.push(waiter);
  }

  #remove(agentId: string, waiter: Waiter): void {
    const present = this.#waiting.get(agentId);
    if (present === waiter) this.#waiting.delete(agentId);
    else if (Array.isArray(present)) {
      const rest = present.filter((w) => w !== waiter);
      if (rest.length === present.length) return;
      if (rest.length === 0) this.#waiting.delete(agentId);
      else this.#waiting.set(agentId, rest.length === 1 ? rest[0]! : rest);
    }
  }

  /** Runs every waiter of the agent once (each removes itself as it ends). */
  #wake(agentId: string): void {
    const present = this.#waiting.get(agentId);
    if (!present) return;
    if (typeof present === 'function') present();
    else for (const waiter of [...present]) waiter();
  }
}
