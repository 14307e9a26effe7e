/**
 * One writer or many readers of a model's weights. A `predict` call reads them for its whole
 * duration, so all its forwards see one version of the weights; a training step writes them.
 * Writers go first once waiting, so a stream of predicts cannot starve training.
 */
export class WeightsLock {
  #readers = 0;
  #writing = false;
  readonly #waiting: Array<{ write: boolean; grant: () => void }> = [];

  /** Runs `work` while no step changes the weights. */
  read<T>(work: () => Promise<T>): Promise<T> {
    return this.#hold(false, work);
  }

  /** Runs `work` (a step that changes the weights) while nothing else reads or writes them. */
  write<T>(work: () => Promise<T>): Promise<T> {
    return this.#hold(true, work);
  }

  async #hold<T>(write: boolean, work: () => Promise<T>): Promise<T> {
    const free = write ? !this.#writing && this.#readers === 0 : !this.#writing && !this.#waiting.some((waiter) => waiter.write);
    if (free) this.#take(write);
    else await new Promise<void>((grant) => this.#waiting.push({ write, grant }));
    try {
      return await work();
    } finally {
      if (write) this.#writing = false;
      else this.#readers -= 1;
      this.#grantWaiting();
    }
  }

  #take(write: boolean): void {
    if (write) this.#writing = true;
    else this.#readers += 1;
  }

  /** Admits the waiters at the head of the queue: one writer, or every reader up to the next writer. */
  #grantWaiting(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0];
      if (this.#writing || (next.write && this.#readers > 0)) return;
      this.#waiting.shift();
      this.#take(next.write);
      next.grant();
      if (next.write) return;
    }
  }
}
