// A loop's wait that other code can cut short (new work arrived, or the loop is stopping): written once here
// instead of a setTimeout-plus-callback pair in every consumer loop.

/** sleep(ms) resolves after `ms` or as soon as wake() is called, whichever comes first. */
export class WakeableSleep {
  private wakeCurrent: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeCurrent === done) this.wakeCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeCurrent = done;
    });
  }

  /** Ends the wait in progress now; with none in progress it does nothing. */
  wake(): void {
    this.wakeCurrent?.();
  }
}
